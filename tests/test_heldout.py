"""Held-out calls (tests/data/heldout-calls.toml): worded as people talk, written before any result was
seen and never tuned on, each with a human auditor's verdict per rule. Spoken by the TTS voices,
transcribed by the real base model, scored by the default packs.

A wrong fail (a rule the auditor passes, failed) is the worst bug there is: none is allowed. The
test prints the figures: wrong fails, caught violations, and how many verdicts were "not
evaluated" instead (a person listens to those).
"""

from __future__ import annotations

import tomllib
from collections import Counter
from pathlib import Path

import pytest

from callaudit import config
from callaudit.analysis.pipeline import Scorer
from callaudit.sources.voices import Utterance, build_call

pytestmark = pytest.mark.slow

DATA = Path(__file__).parent / "data" / "heldout-calls.toml"


def calls() -> list[dict]:
    return tomllib.loads(DATA.read_text(encoding="utf-8"))["call"]


def script(call: dict) -> list[Utterance]:
    return [Utterance(speaker, text, gap=gap, at=call["start"] if i == 0 else None)
            for i, (speaker, text, gap) in enumerate(call["lines"])]


def tally(expect: dict[str, str], got: dict[str, str]) -> Counter:
    """Counts for one call: wrong fails, violations caught or not, and not-evaluated verdicts."""
    c: Counter = Counter()
    for rule, want in expect.items():
        st = got[rule]
        if want == "any":
            c["open"] += 1
        elif want == "failed":
            c["violations"] += 1
            c["caught" if st == "failed" else "missed"] += 1
            c["not evaluated (violation)"] += st == "not evaluated"
        else:
            c["no violation"] += 1
            c["wrong fails"] += st == "failed"
            c["not evaluated (no violation)"] += st == "not evaluated" and want == "passed"
    return c


def test_the_held_out_calls_are_written_for_every_rule():
    rules = {"greeting", "response-time", "dead-air", "closing", "forbidden-phrases", "conflict-handling",
             "interruptions", "request-handling"}
    got = calls()
    assert len({c["id"] for c in got}) == len(got) >= 20
    assert {c["lang"] for c in got} == {"ru", "en"}
    for c in got:
        assert set(c["expect"]) == rules, c["id"]
        assert set(c["expect"].values()) <= {"passed", "failed", "not evaluated", "any"}, c["id"]


# Measured 2026-12-01: 0 wrong fails of 132 verdicts with no violation; 16 of 25 violations caught, 8
# not evaluated; 23 not-evaluated where the auditor passes (a person listens to those). Before the
# wordless sounds were counted (vad.unspoken_sounds) ru-silent-lookup's response-time failed on a
# clipped «Так.» that Silero took for silence.
def test_held_out_calls_get_no_wrong_fail(transcriber, tmp_path):
    scorers: dict[tuple[str, str], Scorer] = {}
    total: Counter = Counter()
    lines = []
    for call in calls():
        key = (call["lang"], call.get("company", ""))
        if key not in scorers:
            cfg = config.defaults().with_overrides(transcription__language=key[0], company__name=key[1])
            scorers[key] = Scorer(cfg, transcriber=transcriber)
        path = tmp_path / f"{call['id']}.wav"
        build_call(path, script(call), call["lang"])
        findings = {f.rule: f for f in scorers[key].score_file(path).verdict.findings}
        got = {r: f.status for r, f in findings.items()}
        c = tally(call["expect"], got)
        total += c
        for rule, want in call["expect"].items():
            if want != "any" and got[rule] != want:
                mark = "WRONG FAIL" if got[rule] == "failed" else "missed" if want == "failed" else "differs"
                lines.append(f"  {call['id']:38} {rule:18} want {want:14} got {got[rule]:14} {mark}: "
                             f"{findings[rule].detail[:160]}")
    print(f"\nheld-out calls: {len(calls())}; verdicts with no violation {total['no violation']}, "
          f"wrong fails {total['wrong fails']}, not evaluated {total['not evaluated (no violation)']}; "
          f"violations {total['violations']}, caught {total['caught']}, missed {total['missed']} "
          f"(not evaluated {total['not evaluated (violation)']}); left open {total['open']}")
    print("\n".join(lines))
    wrong = [line for line in lines if "WRONG FAIL" in line]
    assert not wrong, "\n".join(wrong)

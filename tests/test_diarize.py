"""Mono calls (recorder mixes, ChanSpy listen-ins): the two voices are told apart, the agent is
recognised, and when that is not sure the call says so and role rules are not evaluated.

The calls are generated from real recorded speech: the agent is a Debian asterisk-core-sounds
voice, the customer the same recordings a major third lower (callaudit/mixes.py explains why),
mixed into one channel."""

from __future__ import annotations

import numpy as np
import pytest

from callaudit import audio, config
from callaudit.diarize import diarize
from callaudit.mixes import der, mono, roles_right, two_voices
from callaudit.pipeline import Scorer
from callaudit.rulepack import default_pack_path, load
from callaudit.roles import RoleCues, decide
from callaudit.samples import BAD_CALL, GOOD_CALL, RATE, render, say, write_wav
from callaudit.transcribe import speech_activity

from test_score_e2e import BREAKS

ROLE_RULES = {"greeting", "response-time", "closing", "forbidden-phrases", "conflict-handling", "interruptions",
              "request-handling"}


def variant(rule: str | None) -> list:
    return GOOD_CALL if rule is None else [BREAKS[rule].get(i, line) for i, line in enumerate(GOOD_CALL)]


def mono_recording(tmp_path, stereo: np.ndarray, name: str = "mono.wav") -> audio.Recording:
    path = tmp_path / name
    write_wav(path, mono(stereo))
    return audio.load(path)


def reference(tmp_path, stereo: np.ndarray) -> dict:
    """Each party's speech as the stereo version's channels show it."""
    write_wav(tmp_path / "stereo.wav", stereo)
    rec = audio.load(tmp_path / "stereo.wav")
    return {"agent": speech_activity(rec.channels[0]), "customer": speech_activity(rec.channels[1])}


# ------------------------------------------------------------------------------- separation alone

def test_der_counts_missed_false_alarm_and_confusion_under_the_best_mapping():
    ref = {"a": [(0.0, 10.0)], "b": [(12.0, 20.0)]}
    assert der(ref, {"x": [(12.0, 20.0)], "y": [(0.0, 10.0)]})["der"] == 0.0  # names do not matter
    assert der(ref, {"x": [(0.0, 20.0)]})["der"] > 0.4                    # one voice for both: confusion
    assert der(ref, {})["der"] == 1.0                                       # nothing found: all missed


def test_two_voices_in_a_mono_mix_are_separated(tmp_path):
    scored = errors = 0.0
    for lang, lines in (("en", GOOD_CALL), ("ru", GOOD_CALL), ("en", BAD_CALL), ("ru", variant("interruptions"))):
        stereo, _ = two_voices(lines, lang)
        rec = mono_recording(tmp_path, stereo)
        x = rec.channels[0]
        d = diarize(x, speech_activity(x))
        assert d.speakers == 2, (lang, d.detail)
        e = der(reference(tmp_path, stereo), d.spans)
        scored += e["scored"]
        errors += e["der"] * e["scored"]
        assert e["der"] < 0.25, (lang, e)
    assert errors / scored <= 0.15


@pytest.mark.parametrize("kind", ["agent alone", "same voice both sides"])
@pytest.mark.parametrize("lang", ["en", "ru"])
def test_one_voice_is_never_reported_as_two_people(tmp_path, lang, kind):
    lines = [line for line in GOOD_CALL if line.speaker == "agent"] if kind == "agent alone" else GOOD_CALL
    stereo, _ = render(lines, lang)  # no second voice: the customer lines, if any, are the agent's voice
    rec = mono_recording(tmp_path, stereo)
    d = diarize(rec.channels[0], speech_activity(rec.channels[0]))
    assert d.speakers == 1, d.detail
    assert d.detail["why"]


def test_silence_and_no_speech_do_not_crash():
    hiss = (np.random.default_rng(0).standard_normal(RATE * 2 * 20) * 1e-3).astype(np.float32)
    d = diarize(hiss, [])
    assert d.speakers == 0 and d.spans == {} and d.detail["why"] == "no speech"
    d = diarize(hiss, [(3.0, 3.1)])
    assert d.speakers == 0


# ------------------------------------------------------------------------------------ roles alone

def cues(lang: str, company: str = "") -> RoleCues:
    return RoleCues.from_pack(load(default_pack_path(lang)), company)


def test_the_voice_that_greets_and_names_the_company_is_the_agent():
    turns = {"S1": [(0.5, "Алло")], "S2": [(1.5, "Добрый день, компания Ромашка, меня зовут Анна")]}
    d = decide(turns, cues("ru", "Ромашка"), separation=1.0)
    assert d.agent == "S2" and d.confidence >= 0.9, d.evidence


def test_speaking_first_alone_is_not_enough_to_name_the_agent():
    turns = {"S1": [(0.5, "All circuits are busy now.")], "S2": [(2.0, "Something is terribly wrong!")]}
    d = decide(turns, cues("en"), separation=1.0)
    assert d.confidence < config.defaults()["diarization"]["min_confidence"], d


def test_when_both_greet_the_first_greeting_answered_the_phone():
    turns = {"S1": [(0.5, "Hello, thank you for calling.")], "S2": [(3.0, "Hello, I have a question.")]}
    d = decide(turns, cues("en"), separation=1.0)
    assert d.agent == "S1", d.evidence
    assert decide(turns, cues("en"), separation=0.3).confidence < 0.6  # voices barely apart: not sure


# ---------------------------------------------------------------------------- whole calls, Whisper

@pytest.fixture(scope="module")
def scorers(transcriber):
    return {lang: Scorer(config.defaults().with_overrides(transcription__language=lang), transcriber=transcriber)
            for lang in ("ru", "en")}


def expected(rule: str | None) -> dict[str, str]:
    """The stereo verdicts of GOOD_CALL and its variants, as tests/test_score_e2e.py proves them."""
    return {r: "failed" if r == rule else "passed" for r in (*BREAKS,)}


@pytest.mark.slow
def test_mono_calls_get_the_right_roles_and_the_stereo_verdicts(scorers, tmp_path):
    cases = [(lang, rule) for lang in ("en", "ru") for rule in (None, "greeting", "closing", "interruptions")]
    pairs = same = 0
    for lang, rule in cases:
        stereo, placed = two_voices(variant(rule), lang)
        path = tmp_path / f"{lang}-{rule}.wav"
        write_wav(path, mono(stereo))
        result = scorers[lang].score_file(path)
        call = result["call"]
        assert call["channels"] == "mono" and call["roles"] == "diarized", (lang, rule, call)
        assert call["role_confidence"] >= 0.6
        assert roles_right(result["transcript"], placed), (lang, rule, result["transcript"])
        got = {f["rule"]: f["status"] for f in result["findings"]}
        want = expected(rule)
        # Never a fail that the stereo version of the same call does not give.
        assert not [r for r in got if got[r] == "failed" and want[r] != "failed"], (lang, rule, got)
        if rule == "interruptions":
            # Both talk at once: the mix cannot say for how long, and loses words there, so fails that
            # could rest on lost words are not given (bench/diarize.py counts these calls too).
            assert call["overlap_reliability"] == "unmeasured"
            assert got["interruptions"] == "not evaluated"
        else:
            pairs += len(want)
            same += sum(got[r] == want[r] for r in want)
    assert same / pairs >= 0.9, (same, pairs)


@pytest.mark.slow
def test_a_call_without_any_agent_evidence_is_roles_uncertain_and_never_fails_a_role_rule(scorers, tmp_path):
    stereo, _ = two_voices(BAD_CALL, "en")  # no greeting, no company, no hold: only who spoke first
    path = tmp_path / "bad.wav"
    write_wav(path, mono(stereo))
    result = scorers["en"].score_file(path)
    assert result["call"]["roles"] == "uncertain" and result["call"]["role_confidence"] < 0.6
    got = {f["rule"]: (f["status"], f["detail"]) for f in result["findings"]}
    for rule in ROLE_RULES:
        assert got[rule][0] == "not evaluated" and "roles uncertain" in got[rule][1], got[rule]
    assert {t["speaker"] for t in result["transcript"]} == {"speaker-1", "speaker-2"}


@pytest.mark.slow
def test_a_single_speaker_recording_is_one_voice_and_roles_uncertain(scorers, tmp_path):
    stereo, _ = render([line for line in GOOD_CALL if line.speaker == "agent"], "ru")
    path = tmp_path / "alone.wav"
    write_wav(path, stereo[:1])
    result = scorers["ru"].score_file(path)
    call = result["call"]
    assert call["roles"] == "uncertain" and call["diarization"]["voices"] == 1, call
    assert {t["speaker"] for t in result["transcript"]} == {"unknown"}
    assert all(f["status"] == "not evaluated" for f in result["findings"] if f["rule"] in ROLE_RULES)
    assert result["score"] == 100


@pytest.mark.slow
def test_a_long_silence_is_reported_as_dead_air_and_nothing_else_breaks(scorers, tmp_path):
    lines = [say("agent", "hello", at=0.8), say("customer", "check-number-dial-again"),
             say("agent", "auth-thankyou", gap=40.0), say("customer", "auth-thankyou"), say("agent", "goodbye")]
    stereo, _ = two_voices(lines, "en")
    path = tmp_path / "silence.wav"
    write_wav(path, mono(stereo))
    result = scorers["en"].score_file(path)
    got = {f["rule"]: f for f in result["findings"]}
    assert got["dead-air"]["status"] == "failed" and "40." in got["dead-air"]["detail"]
    assert result["call"]["roles"] in ("diarized", "uncertain")
    assert set(result["call"]) >= {"roles", "role_confidence", "overlap_reliability", "diarization"}
    # The customer really waited 40 s for an answer: with roles known that is a true response-time
    # fail (the stereo call gives it too); nothing else may fail.
    failed = {r for r, f in got.items() if f["status"] == "failed"}
    assert failed <= {"dead-air", "response-time"}, failed
    if result["call"]["roles"] != "diarized":
        assert failed == {"dead-air"}

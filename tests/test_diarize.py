"""Mono calls (recorder mixes, ChanSpy listen-ins): the two voices are told apart, the agent is
recognised, and when that is not sure the call says so and role rules are not evaluated.

The calls are generated from real recorded speech: the agent is a Debian asterisk-core-sounds
voice, the customer the same recordings a major third lower (tests/mixes.py explains why), or
the prompts' texts said by Festival's Russian or piper's English voice through a phone line,
mixed into one channel."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from clihelp import run
from mixes import call, der, mono, roles_right, two_voices
from sip_peer import CALL
from test_score_e2e import BREAKS

from callaudit import config, models
from callaudit.analysis.contract import result_json
from callaudit.analysis.cues import role_cues
from callaudit.analysis.pipeline import Scorer
from callaudit.analysis.rulepack import default_pack_path, load
from callaudit.analysis.scoring import judge_transcript
from callaudit.audio import decode as audio
from callaudit.audio import embeddings
from callaudit.audio.diarize import diarize
from callaudit.sources.samples import BAD_CALL, GOOD_CALL, RATE, render, say, write_wav
from callaudit.transcript.records import Transcript, Turn, Word
from callaudit.transcript.roles import RoleCues, decide
from callaudit.transcript.vad import speech_activity

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

@pytest.fixture(scope="module")
def encoder():
    return embeddings.load(models.resolve("speaker-ge2e"))


def test_der_counts_missed_false_alarm_and_confusion_under_the_best_mapping():
    ref = {"a": [(0.0, 10.0)], "b": [(12.0, 20.0)]}
    assert der(ref, {"x": [(12.0, 20.0)], "y": [(0.0, 10.0)]})["der"] == 0.0  # names do not matter
    assert der(ref, {"x": [(0.0, 20.0)]})["der"] > 0.4                    # one voice for both: confusion
    assert der(ref, {})["der"] == 1.0                                       # nothing found: all missed


def test_two_voices_in_a_mono_mix_are_separated(tmp_path, encoder):
    scored = errors = 0.0
    for lang, lines in (("en", GOOD_CALL), ("ru", GOOD_CALL), ("en", BAD_CALL), ("ru", variant("interruptions"))):
        stereo, _ = two_voices(lines, lang)
        rec = mono_recording(tmp_path, stereo)
        x = rec.channels[0]
        d = diarize(x, speech_activity(x), encoder=encoder)
        assert d.speakers == 2, (lang, d.detail)
        e = der(reference(tmp_path, stereo), d.spans)
        scored += e["scored"]
        errors += e["der"] * e["scored"]
        assert e["der"] < 0.25, (lang, e)
    assert errors / scored <= 0.15


def _voice_of(spans: dict, start: float, end: float) -> str | None:
    """The voice holding most of start..end, None where no voice has any of it."""
    held = {v: sum(max(0.0, min(e, end) - max(s, start)) for s, e in own) for v, own in spans.items()}
    return max(held, key=held.get) if any(held.values()) else None


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_every_short_stretch_keeps_its_speakers_voice_and_no_takeover_is_invented(tmp_path, encoder, lang):
    """A short stretch (the ru agent's "minutes", 0.47 s after a 0.3 s pause) was once given to the
    other voice: a quick takeover that never happened made the call's overlaps "unmeasured" and left
    interruptions, greeting and closing not evaluated. A real takeover must still be reported."""
    stereo, _ = two_voices(GOOD_CALL, lang)
    x = mono_recording(tmp_path, stereo).channels[0]
    d = diarize(x, speech_activity(x), encoder=encoder)
    ref = reference(tmp_path, stereo)
    assert d.speakers == 2 and d.contested == (), (d.contested, d.spans)
    for party, own in ref.items():
        got = {_voice_of(d.spans, s, e) for s, e in own}
        assert len(got) == 1, (party, own, d.spans)
    stereo, _ = two_voices(variant("interruptions"), lang)
    x = mono_recording(tmp_path, stereo, "talkover.wav").channels[0]
    assert diarize(x, speech_activity(x), encoder=encoder).contested


@pytest.mark.parametrize("pair", ["ru asterisk/festival", "en asterisk/piper"])
def test_strongly_different_voices_are_two_people(tmp_path, encoder, pair):
    """A real voice against a synthetic one differs in everything: that is evidence, not a reason
    to give up (the MFCC method said "one voice only" here)."""
    stereo, _ = call(GOOD_CALL, pair)
    x = mono_recording(tmp_path, stereo).channels[0]
    d = diarize(x, speech_activity(x), encoder=encoder)
    assert d.speakers == 2 and d.separation == 1.0, d.detail
    assert der(reference(tmp_path, stereo), d.spans)["der"] < 0.1


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_two_very_similar_voices_are_not_told_apart(tmp_path, encoder, lang):
    stereo, _ = two_voices(GOOD_CALL, lang, cents=-100)  # the same person a semitone lower
    x = mono_recording(tmp_path, stereo).channels[0]
    d = diarize(x, speech_activity(x), encoder=encoder)
    assert d.speakers == 1 and "too alike" in d.detail["why"], d.detail


def test_a_voice_heard_at_length_only_once_is_too_little_speech_not_too_alike(tmp_path, encoder):
    """The listen-in tests' 24 s call in two clearly different voices: the customer speaks at length
    once, then says «Спасибо». How alike a voice's stretches are cannot be measured from one stretch,
    so no roles; the call says it heard too little, not that the voices sound alike."""
    stereo, _ = call(CALL, "ru asterisk/festival")
    x = mono_recording(tmp_path, stereo).channels[0]
    d = diarize(x, speech_activity(x), encoder=encoder)
    assert d.speakers == 1 and "too little speech" in d.detail["why"] and "alike" not in d.detail["why"], d.detail


def test_without_the_speaker_model_the_call_says_how_to_install_it(tmp_path):
    stereo, _ = two_voices(GOOD_CALL, "en")
    x = mono_recording(tmp_path, stereo).channels[0]
    d = diarize(x, speech_activity(x))
    assert d.speakers == 1 and "callaudit models install speaker-ge2e" in d.detail["why"]


@pytest.mark.parametrize("kind", ["agent alone", "same voice both sides"])
@pytest.mark.parametrize("lang", ["en", "ru"])
def test_one_voice_is_never_reported_as_two_people(tmp_path, encoder, lang, kind):
    lines = [line for line in GOOD_CALL if line.speaker == "agent"] if kind == "agent alone" else GOOD_CALL
    stereo, _ = render(lines, lang)  # no second voice: the customer lines, if any, are the agent's voice
    rec = mono_recording(tmp_path, stereo)
    d = diarize(rec.channels[0], speech_activity(rec.channels[0]), encoder=encoder)
    assert d.speakers == 1, d.detail
    assert d.detail["why"]


def test_silence_and_no_speech_do_not_crash(encoder):
    hiss = (np.random.default_rng(0).standard_normal(RATE * 2 * 20) * 1e-3).astype(np.float32)
    d = diarize(hiss, [], encoder=encoder)
    assert d.speakers == 0 and d.spans == {} and d.detail["why"] == "no speech"
    d = diarize(hiss, [(3.0, 3.1)], encoder=encoder)
    assert d.speakers == 0


# ------------------------------------------------------------------------------------ roles alone

def cues(lang: str, company: str = "") -> RoleCues:
    return role_cues(load(default_pack_path(lang)), company)


def test_the_voice_that_greets_and_names_the_company_is_the_agent():
    turns = {"S1": [(0.5, "Алло")], "S2": [(1.5, "Добрый день, компания Ромашка, меня зовут Анна")]}
    d = decide(turns, cues("ru", "Ромашка"), separation=1.0)
    assert d.agent == "S2" and d.confidence >= 0.9, d.evidence


def test_speaking_first_alone_is_not_enough_to_name_the_agent():
    turns = {"S1": [(0.5, "All circuits are busy now.")], "S2": [(2.0, "Please check the number and dial again.")]}
    d = decide(turns, cues("en"), separation=1.0)
    assert d.confidence < config.defaults().diarization.min_confidence, d


def test_speaking_first_to_a_voice_that_complains_names_the_agent():
    sure = config.defaults().diarization.min_confidence
    turns = {"S1": [(0.5, "All circuits are busy now.")], "S2": [(2.0, "Something is terribly wrong!")]}
    d = decide(turns, cues("en"), separation=1.0)
    assert d.agent == "S1" and d.confidence >= sure, d.evidence
    assert "the other voice complains" in " ".join(d.evidence["S1"]["why"])
    # A complaint backs the voice ahead; it never puts the one who complains ahead.
    turns = {"S1": [(0.5, "Это просто безобразие, ничего не работает!")], "S2": [(2.0, "Да.")]}
    assert decide(turns, cues("ru"), separation=1.0).confidence < sure
    # Both complain: it tells nothing.
    turns = {"S1": [(0.5, "All circuits are busy now. This is outrageous!")], "S2": [(2.0, "Something is terribly wrong!")]}
    assert decide(turns, cues("en"), separation=1.0).confidence < sure


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
        result = result_json(scorers[lang].score_file(path))
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


# BAD_CALL without its complaint: no greeting, no company, no hold, no complaint, only who spoke first.
CALM_BAD_CALL = [say("customer", "auth-thankyou", gap=0.8) if i == 1 else line for i, line in enumerate(BAD_CALL)]


@pytest.mark.slow
def test_a_call_without_any_agent_evidence_is_roles_uncertain_and_never_fails_a_role_rule(scorers, tmp_path):
    stereo, _ = two_voices(CALM_BAD_CALL, "en")
    path = tmp_path / "bad.wav"
    write_wav(path, mono(stereo))
    result = result_json(scorers["en"].score_file(path))
    assert result["call"]["roles"] == "uncertain" and result["call"]["role_confidence"] < 0.6
    got = {f["rule"]: (f["status"], f["detail"]) for f in result["findings"]}
    for rule in ROLE_RULES:
        assert got[rule][0] == "not evaluated" and "roles uncertain" in got[rule][1], got[rule]
    assert {t["speaker"] for t in result["transcript"]} == {"speaker-1", "speaker-2"}


@pytest.mark.slow
def test_a_call_whose_customer_complains_to_the_voice_that_spoke_first_is_judged_on_mono(scorers, tmp_path):
    # BAD_CALL: no greeting, no company, no hold; the agent speaks first, the customer complains.
    stereo, placed = two_voices(BAD_CALL, "en")
    write_wav(tmp_path / "stereo.wav", stereo)
    write_wav(tmp_path / "mono.wav", mono(stereo))
    want = {f["rule"]: f["status"] for f in result_json(scorers["en"].score_file(tmp_path / "stereo.wav"))["findings"]}
    result = result_json(scorers["en"].score_file(tmp_path / "mono.wav"))
    assert result["call"]["roles"] == "diarized" and result["call"]["role_confidence"] >= 0.6, result["call"]
    assert roles_right(result["transcript"], placed), result["transcript"]
    got = {f["rule"]: f["status"] for f in result["findings"]}
    assert not [r for r in got if got[r] == "failed" and want[r] != "failed"], (got, want)
    assert [r for r in got if got[r] == "failed"], got  # the agent's faults are seen on mono too


@pytest.mark.slow
def test_a_single_speaker_recording_is_one_voice_and_roles_uncertain(scorers, tmp_path):
    stereo, _ = render([line for line in GOOD_CALL if line.speaker == "agent"], "ru")
    path = tmp_path / "alone.wav"
    write_wav(path, stereo[:1])
    result = result_json(scorers["ru"].score_file(path))
    call = result["call"]
    assert call["roles"] == "uncertain" and call["diarization"]["voices"] == 1, call
    assert {t["speaker"] for t in result["transcript"]} == {"unknown"}
    assert all(f["status"] == "not evaluated" for f in result["findings"] if f["rule"] in ROLE_RULES)
    assert result["score"] == 100


@pytest.mark.slow
def test_a_long_silence_is_reported_as_dead_air_and_nothing_else_breaks(scorers, tmp_path):
    """Two voices told apart, every change of voice after a pause: a 40 s silence with no hold announced
    is dead air on the mono mix as on the stereo call. (Where the voices are not told apart it is not
    evaluated: see test_a_hold_announced_under_the_other_voice_of_an_unseparated_mix_is_never_dead_air.)"""
    lines = [say("agent", "hello", at=0.8), say("customer", "check-number-dial-again"),
             say("agent", "queue-youarenext", gap=0.9), say("customer", "vm-nobodyavail"),
             say("agent", "feature-not-avail-line", gap=0.9),
             say("agent", "auth-thankyou", gap=40.0), say("customer", "auth-thankyou"), say("agent", "goodbye")]
    stereo, _ = two_voices(lines, "en")
    path = tmp_path / "silence.wav"
    write_wav(path, mono(stereo))
    result = result_json(scorers["en"].score_file(path))
    got = {f["rule"]: f for f in result["findings"]}
    assert result["call"]["diarization"]["voices"] == 2, result["call"]
    assert got["dead-air"]["status"] == "failed" and "40." in got["dead-air"]["detail"]
    assert set(result["call"]) >= {"roles", "role_confidence", "overlap_reliability", "diarization"}
    failed = {r for r, f in got.items() if f["status"] == "failed"}
    assert failed == {"dead-air"}, failed


# A hold announced while the customer talks over it, louder, then 20 s of quiet: an announced hold.
LOST_HOLD = [say("agent", "hello", at=0.8), say("customer", "check-number-dial-again"),
             say("agent", "vm-dialout", gap=0.9),
             say("customer", "something-terribly-wrong", "tt-weasels", gap=-2.6, gain_db=10.0),
             say("agent", "auth-thankyou", gap=20.0), say("customer", "auth-thankyou"), say("agent", "goodbye")]


def one_voice_transcript(lang: str) -> Transcript:
    """What the transcriber gives for LOST_HOLD when its two voices are too alike to tell apart: one
    "unknown" voice, the hold announcement lost under the louder customer (as Whisper wrote it)."""
    words = {"en": ["Hello. Please check the number and dial again. Something is terribly wrong.",
                    "Thank you. Thank you. Goodbye."],
             "ru": ["Здравствуйте! Пожалуйста, проверьте номер и наберите еще раз! Что-то совсем не так.",
                    "Спасибо. Спасибо. До свидания."]}[lang]
    turns = []
    for (start, end), text in zip([(0.8, 10.2), (30.3, 34.1)], words):
        ws = text.split()
        step = (end - start) / len(ws)
        turns.append(Turn("unknown", start, end, text,
                          tuple(Word(start + i * step, start + (i + 1) * step, w, 0.9) for i, w in enumerate(ws)), -24.0))
    return Transcript(tuple(turns), {"unknown": ((0.8, 4.4), (4.7, 10.2), (30.3, 34.1))}, lang, "mono", 35.5,
                      {"name": "base"}, roles="uncertain", role_confidence=0.0, overlap_reliability="unmeasured",
                      diarization={"voices": 1, "separation": 0.0, "contested": [],
                                   "why": "one voice, or two voices too alike to tell apart"})


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_dead_air_is_not_failed_where_voices_not_told_apart_may_hide_a_hold(lang):
    """"One voice" may be two voices too alike: the agent may have announced the hold under the
    customer's words, which the mix lost. Nothing says where they overlapped, so the fail is withheld."""
    pack = load(default_pack_path(lang))
    got = {f.rule: f for f in judge_transcript(pack, one_voice_transcript(lang)).findings}
    assert got["dead-air"].passed is None, got["dead-air"]
    assert "not told apart" in got["dead-air"].detail and "hold" in got["dead-air"].detail
    assert not [f.rule for f in got.values() if f.passed is False]


def test_dead_air_still_fails_on_a_mono_call_whose_two_voices_were_told_apart_without_overlaps(lang="en"):
    tx = one_voice_transcript(lang)
    tx = dataclasses.replace(tx, overlap_reliability="no-overlap", diarization={"voices": 2, "contested": []},
                             roles="diarized", role_confidence=0.95,
                             turns=tuple(t._replace(speaker="agent") for t in tx.turns))
    got = {f.rule: f for f in judge_transcript(load(default_pack_path(lang)), tx).findings}
    assert got["dead-air"].passed is False and "20.1 s of silence" in got["dead-air"].detail


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["en", "ru"])
def test_a_hold_announced_under_the_other_voice_of_an_unseparated_mix_is_never_dead_air(scorers, tmp_path, lang):
    stereo, _ = two_voices(LOST_HOLD, lang, cents=-100)  # the same person a semitone lower: too alike
    write_wav(tmp_path / "stereo.wav", stereo)
    write_wav(tmp_path / "mono.wav", mono(stereo))
    two = {f["rule"]: f for f in result_json(scorers[lang].score_file(tmp_path / "stereo.wav"))["findings"]}
    assert two["dead-air"]["status"] == "passed" and "announced hold" in two["dead-air"]["detail"]
    result = result_json(scorers[lang].score_file(tmp_path / "mono.wav"))
    call = result["call"]
    assert call["diarization"]["voices"] == 1 and call["overlap_reliability"] == "unmeasured", call
    got = {f["rule"]: f for f in result["findings"]}
    assert got["dead-air"]["status"] == "not evaluated", got["dead-air"]
    # Two voices too alike to tell apart: no guess at who is the agent, so no rule about the agent is judged.
    assert call["roles"] == "uncertain" and "too alike" in call["diarization"]["why"], call
    for rule in ROLE_RULES:
        assert got[rule]["status"] == "not evaluated" and "roles uncertain" in got[rule]["detail"], got[rule]
    assert "failed" not in {f["status"] for f in got.values()}


@pytest.mark.slow
def test_the_pack_named_by_rules_also_decides_who_the_agent_is(transcriber, tmp_path, monkeypatch):
    """`score --rules custom.toml` judges with custom.toml, so the agent must be recognised by custom.toml's
    greeting too — not by the config's pack. The agent of BAD_CALL opens with «All circuits are busy now»:
    no greeting of the default pack (its voices stay unlabelled without the customer's complaint), the
    greeting of this one."""
    stereo, placed = two_voices(CALM_BAD_CALL, "en")
    path = tmp_path / "bad-mono.wav"
    write_wav(path, mono(stereo))
    custom = tmp_path / "custom.toml"
    text = default_pack_path("en").read_text(encoding="utf-8")
    greeting = '"hello", "good morning", "good afternoon", "good evening", "thank you for calling",'
    assert greeting in text
    custom.write_text(text.replace(greeting, '"all circuits are busy",'), encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # no callaudit.toml of the person running the tests

    default = result_json(Scorer(config.defaults().with_overrides(transcription__language="en"),
                                 transcriber=transcriber).score_file(path))
    assert default["call"]["roles"] == "uncertain", default["call"]
    out = run("score", "--lang", "en", "--rules", str(custom), "--json", str(path))
    assert out.exit_code == 0, out.output
    result = json.loads(out.output)
    assert result["rules_file"] == str(custom)
    call = result["call"]
    assert call["roles"] == "diarized", call
    agent_why = [e["why"] for e in call["diarization"]["role_evidence"].values() if any("greets" in w for w in e["why"])]
    assert agent_why and "greets («all circuits are busy»)" in agent_why[0], call["diarization"]["role_evidence"]
    assert roles_right(result["transcript"], placed), result["transcript"]

"""What callaudit hears in a call: the words (WER on real voices) and when each party spoke.

The calls are built from Debian's asterisk-core-sounds, real human voices whose texts are known,
so every check compares with the truth. The model is the real base model, loaded once per session.
"""

from __future__ import annotations

import jiwer
import numpy as np
import pytest

from callaudit.audio import decode as audio
from callaudit.errors import CallauditError
from callaudit.sources import samples
from callaudit.sources.samples import say
from callaudit.text.matching import normalise
from callaudit.transcript.transcribe import NAMES

REPLIES = ("auth-thankyou", "check-number-dial-again", "please-try-again", "sorry")
MAX_WER = {"ru": 0.15, "en": 0.08}
AGENT_LINES = 18


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["ru", "en"])
def test_word_error_rate_on_the_agent_channel(transcriber, output_dir, lang):
    pool = samples.plain_sentences(lang)
    assert len(pool) >= 3 * AGENT_LINES, f"only {len(pool)} usable {lang} prompts"
    # Spread over the whole (alphabetical) pool, not the first few families of prompts.
    agent = [pool[i * len(pool) // AGENT_LINES] for i in range(AGENT_LINES)]
    lines = []
    for i, name in enumerate(agent):
        lines.append(say("agent", name, gap=1.0))
        if i % 3 == 2:
            lines.append(say("customer", REPLIES[i // 3 % len(REPLIES)], gap=0.8))
    wav = output_dir / f"wer-{lang}.wav"
    placed = samples.build(wav, lines, lang)
    tx = transcriber.transcribe(audio.load(wav), lang)

    truth = samples.reference_text(" ".join(p.text for p in placed if p.speaker == "agent"), lang)
    heard = normalise(" ".join(t.text for t in tx.by("agent")))
    measures = jiwer.process_words(truth, heard)
    (output_dir / f"wer-{lang}.txt").write_text(
        f"WER {measures.wer:.3f}\n" + jiwer.visualize_alignment(measures, show_measures=True), encoding="utf-8")
    print(f"\n{lang}: WER {measures.wer:.1%} on {len(truth.split())} words of {AGENT_LINES} agent lines "
          f"(S {measures.substitutions}, D {measures.deletions}, I {measures.insertions}); "
          f"alignment in {output_dir / f'wer-{lang}.txt'}")
    assert measures.wer <= MAX_WER[lang], f"{lang} WER {measures.wer:.1%} > {MAX_WER[lang]:.0%}"
    # and the customer's replies were heard on the customer's side, one turn each
    assert len(tx.by("customer")) == sum(p.speaker == "customer" for p in placed)


# Gaps from 0.5 s (between parties) to 6 s, a pause inside one party's talk, and an interruption.
TIMING_CALL = [
    say("agent", "hello", at=0.6),
    say("customer", "check-number-dial-again", gap=0.5),
    say("agent", "vm-dialout", gap=1.2),
    say("customer", "auth-thankyou", gap=2.0),
    say("agent", "queue-thankyou", gap=6.0),
    say("agent", "pls-hold-while-try", gap=1.6),      # the same party again after a pause
    say("customer", "something-terribly-wrong", gap=0.7),
    say("agent", "sorry-youre-having-problems", gap=-0.8),  # starts while the customer still talks
    say("customer", "vm-nobodyavail", gap=3.0),
    say("agent", "goodbye", gap=0.5),
]


@pytest.mark.slow
def test_turns_start_and_end_where_the_parties_spoke(transcriber, output_dir):
    wav = output_dir / "timing-en.wav"
    placed = samples.build(wav, TIMING_CALL, "en")
    assert any(b.start < a.end for a, b in zip(placed, placed[1:]))  # the call does hold an overlap
    tx = transcriber.transcribe(audio.load(wav), "en")
    report = "\n".join(f"{p.speaker:8} placed {p.start:6.2f}-{p.end:6.2f}   heard "
                       + ", ".join(f"{t.start:6.2f}-{t.end:6.2f}" for t in tx.turns
                                   if t.speaker == p.speaker and t.start < p.end and t.end > p.start)
                       + f"   {p.text}" for p in placed)
    (output_dir / "timing-en.txt").write_text(report + "\n")
    assert len(tx.turns) == len(placed), report
    for p in placed:
        mine = [t for t in tx.turns if t.speaker == p.speaker and t.start < p.end and t.end > p.start]
        assert len(mine) == 1, report
        assert abs(mine[0].start - p.start) <= 0.3 and abs(mine[0].end - p.end) <= 0.3, report
    # what a response-time rule would measure: the gap between one party's end and the other's start
    for a, b in zip(placed, placed[1:]):
        ta = next(t for t in tx.turns if t.speaker == a.speaker and t.start < a.end and t.end > a.start)
        tb = next(t for t in tx.turns if t.speaker == b.speaker and t.start < b.end and t.end > b.start)
        assert abs((tb.start - ta.end) - (b.start - a.end)) <= 0.3, report


@pytest.mark.slow
def test_no_words_in_twenty_seconds_of_silence(transcriber, output_dir):
    """Whisper invents text in silence ("Thank you.", "Продолжение следует..."): none may appear."""
    script = [
        say("agent", "hello", at=0.5),
        say("customer", "check-number-dial-again"),
        say("agent", "pls-hold-while-try"),
        say("agent", "queue-thankyou", gap=20.0),  # both parties silent, the line open
        say("customer", "auth-thankyou"),
        say("agent", "goodbye"),
    ]
    x, placed = samples.render(script, "en")
    quiet = (placed[2].end, placed[3].start)
    assert quiet[1] - quiet[0] == pytest.approx(20.0, abs=0.01)
    # An open line is not digital silence: add line noise at -45 dBFS (speech is at -24) to both channels.
    a, b = int(quiet[0] * samples.RATE), int(quiet[1] * samples.RATE)
    x[:, a:b] += np.random.default_rng(1).standard_normal((2, b - a)).astype(np.float32) * 10 ** (-45 / 20)
    wav = output_dir / "silence-en.wav"
    samples.write_wav(wav, x)
    tx = transcriber.transcribe(audio.load(wav), "en")
    words = [(t.speaker, w) for t in tx.turns for w in t.words]
    # Whisper's word edges are smeared by a few tenths of a second; a word belongs where its middle is.
    in_silence = [(s, w) for s, w in words if quiet[0] + 0.3 < (w.start + w.end) / 2 < quiet[1] - 0.3]
    assert not in_silence, in_silence
    for speaker, spans in tx.activity.items():
        assert not [s for s in spans if s[1] > quiet[0] + 0.3 and s[0] < quiet[1] - 0.3], (speaker, spans)
    text = normalise(" ".join(t.text for t in tx.turns))
    assert "please hold" in text and "thank you for your patience" in text  # the words around it survive
    assert len(tx.turns) == len(placed)


@pytest.mark.slow
@pytest.mark.parametrize("spoken,asked", [("en", "ru"), ("ru", "en")])
def test_a_call_in_the_other_language_is_refused_not_scored(transcriber, tmp_path, spoken, asked):
    # Scored in the wrong language, Whisper writes nonsense words and the rules judge what nobody said.
    wav = tmp_path / f"{spoken}.wav"
    samples.build(wav, samples.GOOD_CALL, spoken)
    rec = audio.load(wav)
    with pytest.raises(CallauditError, match=f"the call is in {NAMES[spoken]} .* --lang {spoken}, or --lang auto"):
        transcriber.transcribe(rec, asked)
    assert transcriber.transcribe(rec, spoken).language == spoken

"""Dense windows: stretches of speech packed into shared 30 s windows come back word for word, each word
to its own stretch and at its own time in the call, on real recorded speech and the real base model."""

from __future__ import annotations

import tempfile
from pathlib import Path

import jiwer
import numpy as np
import pytest

from callaudit.audio.decode import load
from callaudit.sources import samples
from callaudit.text.matching import normalise
from callaudit.transcript.dense import Stretch, _place, _Window, decode_dense_stats
from callaudit.transcript.records import Word

pytestmark = pytest.mark.slow


def speech(lang: str, *names: str) -> tuple[np.ndarray, str]:
    """Prompts spoken back to back at 16 kHz with 0.5 s of line hiss before and 0.3 s after, and their text."""
    x = np.concatenate([samples.prompt(lang, n) for n in names])
    hiss = np.random.default_rng(len(names)).standard_normal(int(0.8 * samples.RATE)) * 10 ** (-62 / 20)
    x = np.concatenate([hiss[:4000], x, hiss[4000:]]).astype(np.float32)
    text = " ".join(samples.texts(lang)[n] for n in names)
    with tempfile.TemporaryDirectory() as tmp:  # to 16 kHz the way every recording gets there
        samples.write_wav(Path(tmp) / "x.wav", x[None, :])
        return load(Path(tmp) / "x.wav").channels[0], samples.reference_text(text, lang)


def stretch(party, x: np.ndarray, start: float, call=0) -> Stretch:
    return Stretch(party, x, start, (start + 0.5, start + len(x) / 16000 - 0.3), call)


def wer(truth: str, words: list[Word]) -> float:
    return jiwer.wer(truth, normalise(" ".join(w.text for w in words)))


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_short_stretches_of_two_parties_share_windows_and_keep_their_words(transcriber, lang):
    pool = samples.plain_sentences(lang)
    chosen = [pool[i * len(pool) // 12] for i in range(12)]
    stretches, truths = [], []
    for k, name in enumerate(chosen):
        x, text = speech(lang, name)
        stretches.append(stretch("agent" if k % 2 == 0 else "customer", x, 7.0 * k))
        truths.append(text)
    heard = decode_dense_stats(transcriber.model, stretches, language=lang, join_silence=0.5)
    # Twelve stretches of 2-5 s cost 2-3 windows, not twelve.
    assert heard.windows <= 4, heard
    for s, words, truth in zip(stretches, heard.words, truths):
        assert words, (truth, heard.redecoded)
        assert all(s.start <= w.start <= w.end <= s.end for w in words), (s.start, s.end, words)
        assert [w.start for w in words] == sorted(w.start for w in words)
        assert wer(truth, words) <= 0.4, (truth, " ".join(w.text for w in words))
    everything = jiwer.wer(" ".join(truths), normalise(" ".join(w.text for ws in heard.words for w in ws)))
    assert everything <= {"ru": 0.15, "en": 0.08}[lang]


def test_a_stretch_longer_than_a_window_is_cut_and_keeps_its_words(transcriber):
    names = [n for n in samples.plain_sentences("en")][:14]
    x, truth = speech("en", *names)
    assert len(x) / 16000 > 35
    heard = decode_dense_stats(transcriber.model, [stretch("agent", x, 100.0)], language="en")
    words = heard.words[0]
    assert heard.windows == 2
    assert words[0].start < 102 and words[-1].end > 100 + len(x) / 16000 - 3
    assert wer(truth, words) <= 0.1, " ".join(w.text for w in words)


def test_each_call_of_a_batch_is_heard_in_its_own_language(transcriber):
    """Two calls decoded together, languages not given: each call's language is heard once, in its
    first window, and its words are written in it."""
    said = {(lang, who): speech(lang, name) for lang in ("ru", "en")
            for who, name in (("agent", "conf-getpin"), ("customer", "vm-nobodyavail"))}
    stretches = [stretch(who, said[lang, who][0], 1.0 if who == "agent" else 9.0, call=lang)
                 for who in ("agent", "customer") for lang in ("ru", "en")]
    heard = decode_dense_stats(transcriber.model, stretches, language=None)
    assert heard.languages["ru"][0] == "ru" and heard.languages["en"][0] == "en", heard.languages
    assert heard.windows == 2, heard  # one window per call: different languages never share one
    for s, words in zip(stretches, heard.words):
        assert wer(said[s.call, s.party][1], words) <= 0.5, (s.call, s.party, words)  # 3-6 words each


def test_a_word_at_a_join_goes_to_its_stretch_or_is_decoded_again():
    """The placing rule on timings Whisper gives: two stretches A (0-3 s, speech 0.5-2.7) and B (3.5-6.5 s,
    speech 4.0-6.2) in one window, A from 10 s in the call, B from 40 s."""
    pieces = [Stretch("agent", np.zeros(48000, np.float32), 10.0, (10.5, 12.7)),
              Stretch("customer", np.zeros(48000, np.float32), 40.0, (40.5, 42.7))]
    window = _Window("en", None, slots=[(0, 0.0), (1, 3.5)])
    ordinary = [(0.6, 0.9, "one", 0.9), (0.9, 1.2, "two", 0.9), (4.1, 4.4, "three", 0.9), (4.4, 4.7, "four", 0.9)]

    def place(word):
        placed, unsure = _place(ordinary + [word], window, pieces)
        return {i for i, w in placed if w.text == word[2]}, unsure

    # Inside one stretch: its own, shifted into call time.
    placed, unsure = _place(ordinary, window, pieces)
    assert [(i, w.start) for i, w in placed] == [(0, 10.6), (0, 10.9), (1, 40.6), (1, 40.9)] and not unsure
    # The first word after the join, its start smeared back over the silence: B's.
    assert place((2.6, 4.3, "or", 0.6)) == ({1}, set())
    # Ending in the silence right after A: A's (Whisper stretched its end a little).
    assert place((2.5, 3.1, "end", 0.9)) == ({0}, set())
    # A long word over the whole join: placed by its end, as faster-whisper does after a pause.
    assert place((2.2, 4.4, "long", 0.5)) == ({1}, set())
    # In the middle of the join's silence, or across the join touching no one's speech: not guessed,
    # both stretches decoded again.
    assert place((3.2, 3.3, "uh", 0.5)) == (set(), {0, 1})
    assert place((2.9, 3.6, "um", 0.5)) == (set(), {0, 1})

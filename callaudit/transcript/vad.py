"""When each party spoke: speech activity (Silero VAD, inside faster-whisper), turns, Whisper windows.

Whisper's segment times are smeared (a segment can swallow seconds of silence) and it invents text
in silence, so every time a rule measures comes from here, and a word survives only if it lies
inside detected speech.
"""

from __future__ import annotations

import numpy as np

from callaudit.audio.decode import RATE
from callaudit.transcript.records import Word

MAX_CLIP = 28.0  # s; Whisper sees 30 s windows, keep clips inside one
# Seconds of audio before each stretch of speech: Whisper reads a line's first words better with a
# lead-in (2 273 words of the bench and test calls: 151 errors at 0.5 s, 143 at 1.0 s, 144 at 1.2 s;
# «у меня не работает интернет» was «у меня они работают на церкви» at 0.5 s).
LEAD = 1.0
# Dense windows keep the shorter lead-in: at 1.0 s a company name at a join went unheard
# (tests/test_hotwords.py), and every second of lead-in is a second of each packed window.
DENSE_LEAD = 0.5


def speech_activity(samples: np.ndarray, threshold: float = 0.5, min_silence: float = 0.3) -> list[tuple[float, float]]:
    """Stretches of speech in one channel, in seconds (Silero VAD)."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    opts = VadOptions(threshold=threshold, min_speech_duration_ms=120,
                      min_silence_duration_ms=int(min_silence * 1000), speech_pad_ms=60)
    return [(s["start"] / RATE, s["end"] / RATE) for s in get_speech_timestamps(samples, opts)]


SOUND_FRAME = 0.02  # s
SOUND_MIN = 0.08    # s: shorter is a click or a keystroke
SOUND_BELOW_SPEECH = 12.0  # dB under the channel's typical speech


def unspoken_sounds(samples: np.ndarray, spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Stretches as loud as this channel's speech that the speech detector did not take for speech.

    Silero misses some short words entirely (a clipped «Так.» after the customer's question): the
    rules that measure a wait must not take such a word for silence. Each stretch is at least
    SOUND_MIN s of 20 ms frames no more than SOUND_BELOW_SPEECH dB under the median frame of the
    channel's speech; a channel with no speech has no level to compare with, and no sounds."""
    n = int(SOUND_FRAME * RATE)
    frames = len(samples) // n
    if not spans or frames == 0:
        return []
    power = (samples[:frames * n].astype(np.float64).reshape(frames, n) ** 2).mean(axis=1)
    db = 10 * np.log10(power + 1e-12)
    t = np.arange(frames) * SOUND_FRAME
    speech = np.zeros(frames, bool)
    for a, b in spans:
        speech |= (t >= a - 0.1) & (t < b + 0.1)
    if not speech.any():
        return []
    loud = (db >= np.median(db[speech]) - SOUND_BELOW_SPEECH) & ~speech
    out: list[tuple[float, float]] = []
    edges = np.flatnonzero(np.diff(np.concatenate(([0], loud.astype(np.int8), [0]))))
    for first, stop in zip(edges[::2], edges[1::2]):
        a, b = float(first * SOUND_FRAME), float(stop * SOUND_FRAME)
        if out and a - out[-1][1] < 0.1:
            a = out.pop()[0]
        out.append((round(a, 3), round(b, 3)))
    return [(a, b) for a, b in out if b - a >= SOUND_MIN]


def group_turns(spans: list[tuple[float, float]], gap: float) -> list[tuple[float, float]]:
    """Join stretches of speech separated by less than `gap` seconds into turns."""
    turns: list[list[float]] = []
    for start, end in spans:
        if turns and start - turns[-1][1] < gap:
            turns[-1][1] = max(turns[-1][1], end)
        else:
            turns.append([start, end])
    return [(s, e) for s, e in turns]


def clips(spans: list[tuple[float, float]], duration: float, join: float = 1.0, lead: float = LEAD) -> list[dict]:
    """Windows for Whisper: stretches of speech less than `join` s apart share a window of at most
    MAX_CLIP s, each begun `lead` s early. Long silences stay out of the windows: Whisper misplaces
    words across them."""
    out: list[list[float]] = []
    for start, end in spans:
        start, end = max(0.0, start - lead), min(duration, end + 0.3)  # VAD can clip a soft first sound
        if out and start - out[-1][1] < join and end - out[-1][0] <= MAX_CLIP:
            out[-1][1] = max(out[-1][1], end)
            continue
        while end - start > MAX_CLIP:
            out.append([start, start + MAX_CLIP])
            start += MAX_CLIP
        out.append([start, end])
    return [{"start": s, "end": e} for s, e in out]


def dense_clips(spans: list[tuple[float, float]], duration: float) -> list[dict]:
    """The stretches dense.py packs: `clips` with the dense lead-in."""
    return clips(spans, duration, lead=DENSE_LEAD)


def overlap(word: Word, start: float, end: float) -> float:
    return min(word.end, end) - max(word.start, start)


def inside(word: Word, spans: list[tuple[float, float]], slack: float = 0.1) -> bool:
    """Whether a word touches detected speech. Whisper stretches a clip's first word back to the
    clip's start, so a real word may begin in the padding; an invented one lies wholly in silence."""
    return any(overlap(word, s - slack, e + slack) > 0 for s, e in spans)

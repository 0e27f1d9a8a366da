"""Speech to text, per party: speech activity gives the timing, Whisper gives the words.

Whisper's segment times are smeared (a segment can swallow seconds of silence) and it invents text
in silence, so every time a rule measures comes from per-channel speech activity (Silero VAD, which
ships inside faster-whisper), and a word survives only if it lies inside detected speech.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np

from . import models
from .audio import RATE, Recording, loudness_db
from .config import Config
from .errors import CallauditError

MAX_CLIP = 28.0  # s; Whisper sees 30 s windows, keep clips inside one
NAMES = {"ru": "Russian", "en": "English"}
# A call is refused as being in the other language only when Whisper is this sure, from at least
# MIN_SPEECH s of speech: a false refusal costs a re-run, a missed one costs nonsense verdicts.
WRONG_LANGUAGE_P, MIN_SPEECH = 0.9, 4.0


class Word(NamedTuple):
    start: float
    end: float
    text: str
    probability: float


class Turn(NamedTuple):
    """One party speaking without a long pause. Times come from speech activity, not from Whisper."""

    speaker: str  # "agent" | "customer"; mono: "unknown" (one voice) or "speaker-1"/"speaker-2" (roles uncertain)
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
    # Who is who: "channels" (one party per channel), "diarized" (mono, voices separated and the
    # agent recognised with role_confidence >= the threshold), "uncertain" (mono, not sure: role
    # rules are not evaluated) or "none" (mono, separation switched off).
    roles: str = ""
    role_confidence: float | None = None
    # How far overlap figures can be trusted: "channels" (measured per channel), "no-overlap" (mono:
    # every change of speaker had a pause), "unmeasured" (mono: a change without a pause, where an
    # overlap may have happened and its length cannot be told from the mix), "none" (mono, no roles).
    overlap_reliability: str = ""
    diarization: dict = field(default_factory=dict)  # the figures behind the roles, for the call's data

    def __post_init__(self):
        stereo = self.channels == "stereo"
        if not self.roles:
            object.__setattr__(self, "roles", "channels" if stereo else "none")
        if not self.overlap_reliability:
            object.__setattr__(self, "overlap_reliability", "channels" if stereo else "none")

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
            # Only a catalog model can be reinstalled; a folder named by path must be copied again.
            fix = (f"reinstall it with `callaudit models install {mc['name']}`" if mc["name"] in models.CATALOG
                   else "copy the model folder again")
            reason = " ".join(str(e).split())  # one line, whatever ctranslate2 printed
            raise CallauditError(f"model {self.model_path}: cannot load ({reason}); {fix}") from None
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

    def check_language(self, samples: np.ndarray, spans: list[tuple[float, float]], language: str | None) -> None:
        """Refuse a call whose speech is clearly in the other language than the one it is scored in: the
        words Whisper would write are nonsense, and the rules would judge what was never said."""
        if language not in NAMES or not self.multilingual:
            return
        speech = np.concatenate([samples[int(a * RATE):int(b * RATE)] for a, b in spans] or [samples[:0]])[:30 * RATE]
        if len(speech) < MIN_SPEECH * RATE:
            return
        found, p, _ = self.model.detect_language(audio=speech.astype(np.float32))
        if found in NAMES and found != language and p >= WRONG_LANGUAGE_P:
            raise CallauditError(f"the call is in {NAMES[found]} ({p:.0%} sure), not {NAMES[language]} as asked: "
                                 f"score it with --lang {found}, or --lang auto")

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
        elif self.config["diarization"]["enabled"]:
            return self._mono(rec, lang)
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
            if role == order[0]:
                self.check_language(samples, spans, lang)
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

    # ------------------------------------------------------------------ mono: two voices, one channel
    def _mono(self, rec: Recording, lang: str | None) -> Transcript:
        """A mono call (a recorder's mix, a ChanSpy listen-in): tell the voices apart, transcribe each,
        recognise the agent, and label the turns only when sure (see diarize.py and roles.py)."""
        from .diarize import diarize
        from .roles import decide

        tc, dc = self.config["transcription"], self.config["diarization"]
        samples = np.ascontiguousarray(rec.channels[0])
        spans = speech_activity(samples, tc["vad_threshold"], tc["min_silence"])
        self.check_language(samples, spans, lang)
        d = diarize(samples, spans, dc["min_separation"])
        voices = dict(d.spans) if d.speakers == 2 else {"unknown": tuple(spans)}
        # Each voice is transcribed in windows of its own speech, as each channel of a stereo call is:
        # Whisper then hears one party per window (another's loud words nearby change what it writes),
        # and the words it returns there are that voice's.
        turns: list[Turn] = []
        detected = lang
        for voice, own in voices.items():
            words, found = self._words(samples, list(own), detected)
            detected = detected or found
            turns += _voice_turns({voice: own}, [w for w in words if _inside(w, list(own))], samples,
                                  tc["turn_gap"])
        turns.sort(key=lambda t: (t.start, t.speaker))
        language = detected or "unknown"
        info = {"voices": d.speakers, "separation": d.separation, "contested": list(d.contested), **d.detail}
        common = dict(language=language, channels="mono", duration=round(rec.duration, 3), model=dict(self.info))
        if d.speakers < 2:
            info["roles_why"] = "one voice only, or two voices too alike to tell apart"
            return Transcript(tuple(turns), {"unknown": tuple(spans)}, roles="uncertain", role_confidence=0.0,
                              overlap_reliability="none", diarization=info, **common)
        rules = self.config["scoring"]["rules"]
        cues = _cues(rules or None, language if language in ("ru", "en") else tc["language"],
                     self.config["company"]["name"])
        decision = decide({v: [(t.start, t.text) for t in turns if t.speaker == v] for v in d.spans},
                          cues, d.separation)
        info["role_evidence"] = decision.evidence
        info["min_confidence"] = dc["min_confidence"]
        sure = decision.agent is not None and decision.confidence >= dc["min_confidence"]
        if sure:
            names = {v: "agent" if v == decision.agent else "customer" for v in d.spans}
        else:
            names = {v: f"speaker-{v[1:]}" for v in d.spans}
            info["roles_why"] = (f"role confidence {decision.confidence:.2f} below {dc['min_confidence']:g}"
                                 if decision.agent else "no voice greets, names the company or announces a hold")
        turns = [t._replace(speaker=names[t.speaker]) for t in turns]
        return Transcript(tuple(turns), {names[v]: s for v, s in d.spans.items()},
                          roles="diarized" if sure else "uncertain", role_confidence=decision.confidence,
                          overlap_reliability="unmeasured" if d.contested else "no-overlap", diarization=info,
                          **common)


@lru_cache(maxsize=8)
def _cues(rules: str | None, language: str, company: str):
    """What identifies the agent: the greeting and hold phrases of the pack that will judge the call."""
    from . import rulepack
    from .roles import RoleCues

    return RoleCues.from_pack(rulepack.load(Path(rules) if rules else rulepack.default_pack_path(language)), company)


def _voice_turns(voices: dict[str, list[tuple[float, float]]], words: list[Word], samples: np.ndarray,
                 turn_gap: float) -> list[Turn]:
    """Turns of each voice from its speech stretches; each word goes to the turn it overlaps most."""
    slots = [(v, s, e) for v, spans in voices.items() for s, e in group_turns(list(spans), turn_gap)]
    if not slots:
        return []
    owner = [max(range(len(slots)), key=lambda k: _overlap(w, *slots[k][1:])) for w in words]
    turns = []
    for k, (voice, start, end) in enumerate(slots):
        mine = tuple(w for w, o in zip(words, owner) if o == k)
        if not mine:
            continue  # a cough or line noise: speech activity, but no words
        seg = samples[int(start * RATE):int(end * RATE)]
        turns.append(Turn(voice, round(start, 3), round(end, 3), " ".join(w.text for w in mine), mine,
                          round(loudness_db(seg), 2)))
    turns.sort(key=lambda t: (t.start, t.speaker))
    return turns

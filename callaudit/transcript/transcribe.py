"""Speech to text, per party: speech activity gives the timing, Whisper gives the words.

Each party's channel is transcribed in windows of its own speech (vad.py); a mono call's two voices
are told apart first (audio/diarize.py) and labelled agent/customer only when the rule pack's cues
say so with confidence (roles.py). The cues come from the caller — the scorer, which chose the
pack that will judge the call — so that the voice taken for the agent is the one *that* pack's
greeting recognises.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from callaudit import models
from callaudit.audio.decode import RATE, Recording, loudness_db
from callaudit.config import LANGUAGES, Config
from callaudit.errors import CallauditError
from callaudit.transcript.records import Transcript, Turn, Word
from callaudit.transcript.roles import RoleCues, decide
from callaudit.transcript.vad import clips, dense_clips, group_turns, inside, overlap, speech_activity, unspoken_sounds

NAMES = {"ru": "Russian", "en": "English"}
# A call is refused as being in the other language only when Whisper is this sure, from at least
# MIN_SPEECH s of speech: a false refusal costs a re-run, a missed one costs nonsense verdicts.
WRONG_LANGUAGE_P, MIN_SPEECH = 0.9, 4.0
SPEAKER_MODEL = "speaker-ge2e"  # tells apart the voices of a mono call (callaudit/audio/diarize.py)

# The cues of the pack that will judge a call in a given language (the language is known only once
# Whisper has heard the call when it is scored with --lang auto).
CuesFor = Callable[[str], RoleCues]


class Transcriber:
    """Loads one Whisper model once and transcribes recordings with it."""

    def __init__(self, config: Config):
        from faster_whisper import BatchedInferencePipeline, WhisperModel

        self.config = config
        mc = config.model
        self.model_path = models.resolve(mc.name, Path(mc.dir) if mc.dir else None)
        try:
            self.model = WhisperModel(str(self.model_path), device="cpu", compute_type=mc.compute_type,
                                      cpu_threads=mc.threads, local_files_only=True)
        except Exception as e:  # a broken folder shows up as many different errors in ctranslate2
            # Only a catalog model can be reinstalled; a folder named by path must be copied again.
            fix = (f"reinstall it with `callaudit models install {mc.name}`" if mc.name in models.CATALOG
                   else "copy the model folder again")
            reason = " ".join(str(e).split())  # one line, whatever ctranslate2 printed
            raise CallauditError(f"model {self.model_path}: cannot load ({reason}); {fix}") from None
        self.multilingual = self.model.model.is_multilingual
        self.pipeline = BatchedInferencePipeline(self.model) if mc.batched else None
        self.info = {"name": mc.name, "path": str(self.model_path), "engine": "faster-whisper",
                     "compute_type": mc.compute_type, "beam_size": mc.beam_size, "batched": mc.batched}

    def _words(self, samples: np.ndarray, spans: list[tuple[float, float]], language: str | None,
               hotwords: str | None = None) -> tuple[list[Word], str | None]:
        if not spans:
            return [], language
        if not self.multilingual:
            language = "en"
        mc = self.config.model
        windows = clips(spans, len(samples) / RATE)
        # No timestamp tokens (the batched pipeline's default): with them on (and beam 1 or 5), whole
        # sentences vanished on tests/test_voices.py («I understand how annoying this is and I
        # apologize»), and an apology lost is a wrong conflict fail. Why is not yet understood.
        common = dict(language=language, beam_size=mc.beam_size, word_timestamps=True, without_timestamps=True,
                      condition_on_previous_text=False, max_new_tokens=200, hotwords=hotwords or None)
        if self.pipeline is not None:
            segments, info = self.pipeline.transcribe(samples, clip_timestamps=windows,
                                                      batch_size=mc.batch_size, **common)
        else:
            flat = [t for w in windows for t in (w["start"], w["end"])]
            segments, info = self.model.transcribe(samples, clip_timestamps=flat, vad_filter=False, **common)
        words = [Word(w.start, w.end, w.word.strip(), w.probability)
                 for seg in segments for w in (seg.words or []) if w.word.strip()]
        return words, info.language

    def _heard(self, parties: dict[str, tuple[np.ndarray, list[tuple[float, float]]]], language: str | None,
               hotwords: dict[str, str]) -> tuple[dict[str, list[Word]], str | None]:
        """Each party's words, from its (samples, speech spans). `[model] dense`: all parties' stretches
        packed into shared 30 s windows (dense.py), the language heard once for the call, from its first
        window; otherwise one Whisper pass per party, a window per stretch. `hotwords`: party -> words
        to bias Whisper towards ("*": every party)."""
        hot = {party: hotwords.get(party) or hotwords.get("*") for party in parties}
        if not self.config.model.dense:
            out = {}
            for party, (samples, spans) in parties.items():
                out[party], found = self._words(samples, spans, language, hot[party])
                language = language or found
            return out, language
        from callaudit.transcript.dense import decode_calls

        mc = self.config.model
        words, languages = decode_calls(self.pipeline or self.model,
                                        [(parties, language, {k: v for k, v in hot.items() if v})], dense_clips,
                                        beam_size=mc.beam_size, batch_size=mc.batch_size,
                                        join_silence=mc.join_silence)
        found, p, speech = languages.get(0, (None, 0.0, 0.0))
        if language is not None and speech >= MIN_SPEECH:
            self._refuse_other_language(found, p, language)
        return words[0], language or found

    def check_language(self, samples: np.ndarray, spans: list[tuple[float, float]], language: str | None) -> None:
        """Refuse a call whose speech is clearly in the other language than the one it is scored in: the
        words Whisper would write are nonsense, and the rules would judge what was never said."""
        if language not in NAMES or not self.multilingual:
            return
        speech = np.concatenate([samples[int(a * RATE):int(b * RATE)] for a, b in spans] or [samples[:0]])[:30 * RATE]
        if len(speech) < MIN_SPEECH * RATE:
            return
        found, p, _ = self.model.detect_language(audio=speech.astype(np.float32))
        self._refuse_other_language(found, p, language)

    def _refuse_other_language(self, found: str | None, p: float, language: str) -> None:
        if language in NAMES and found in NAMES and found != language and p >= WRONG_LANGUAGE_P:
            raise CallauditError(f"the call is in {NAMES[found]} ({p:.0%} sure), not {NAMES[language]} as asked: "
                                 f"score it with --lang {found}, or --lang auto")

    def transcribe(self, rec: Recording, language: str | None = None, cues: CuesFor | None = None,
                   hotwords: dict[str, str] | None = None) -> Transcript:
        """Transcribe each party's channel; `language` is ru, en or auto (None = config). `cues` tell
        the agent's voice on a mono call; without them its voices stay unlabelled ("uncertain").
        `hotwords`: role ("agent", "customer", or "*" for every voice) -> words Whisper should expect."""
        hotwords = hotwords or {}
        tc = self.config.transcription
        language = language or tc.language
        if language not in LANGUAGES:
            raise CallauditError(f"language {language!r} is not one callaudit transcribes: use {', '.join(LANGUAGES)}")
        lang = None if language == "auto" else language
        if lang and lang != "en" and not self.multilingual:
            raise CallauditError(f"model {self.info['name']} is English-only; it cannot transcribe '{lang}': "
                                 "use the multilingual 'base' model or --lang en")
        if rec.n_channels >= 2:
            roles = {self.config.audio.left: 0, self.config.audio.right: 1}
            if len(roles) < 2:
                raise CallauditError(f"config {self.config.source}: [audio] left and right name the same role; "
                                     "one channel must be the agent, the other the customer")
            channels_kind = "stereo"
        elif self.config.diarization.enabled:
            return self._mono(rec, lang, cues, hotwords)
        else:
            roles = {"unknown": 0}
            channels_kind = "mono"
        # The agent channel first: with language auto, the call's language is the agent's.
        order = sorted(roles, key=lambda r: r != "agent")
        turns: list[Turn] = []
        activity: dict[str, tuple[tuple[float, float], ...]] = {}
        sounds: dict[str, tuple[tuple[float, float], ...]] = {}
        parties: dict[str, tuple[np.ndarray, list[tuple[float, float]]]] = {}
        for role in order:
            samples = np.ascontiguousarray(rec.channels[roles[role]])
            spans = speech_activity(samples, tc.vad_threshold, tc.min_silence)
            activity[role] = tuple(spans)
            sounds[role] = tuple(unspoken_sounds(samples, spans))
            if role == order[0] and not self.config.model.dense:  # dense: heard in the call's first window
                self.check_language(samples, spans, lang)
            parties[role] = (samples, spans)
        heard, detected = self._heard(parties, lang, hotwords)
        for role, (samples, spans) in parties.items():
            turns += _voice_turns({role: spans}, [w for w in heard[role] if inside(w, spans)], samples, tc.turn_gap)
        turns.sort(key=lambda t: (t.start, t.speaker))
        return Transcript(tuple(turns), activity, detected or "unknown", channels_kind,
                          round(rec.duration, 3), dict(self.info), sounds=sounds)

    # ------------------------------------------------------------------ mono: two voices, one channel
    _speaker = None

    def _speaker_encoder(self):
        """The speaker model for mono calls, loaded once; None when it is not installed (the call
        then says so and its roles stay uncertain rather than the batch stopping)."""
        from callaudit.audio import embeddings

        if self._speaker is None:
            mc = self.config.model
            try:
                folder = models.resolve(SPEAKER_MODEL, Path(mc.dir) if mc.dir else None)
                self._speaker = embeddings.load(folder)
            except CallauditError:
                return None
        return self._speaker

    def _mono(self, rec: Recording, lang: str | None, cues: CuesFor | None, hotwords: dict[str, str]) -> Transcript:
        """A mono call (a recorder's mix, a ChanSpy listen-in): tell the voices apart, transcribe each,
        recognise the agent, and label the turns only when sure (see diarize.py and roles.py)."""
        from callaudit.audio.diarize import diarize

        tc, dc = self.config.transcription, self.config.diarization
        samples = np.ascontiguousarray(rec.channels[0])
        spans = speech_activity(samples, tc.vad_threshold, tc.min_silence)
        self.check_language(samples, spans, lang)
        d = diarize(samples, spans, dc.min_separation, encoder=self._speaker_encoder())
        voices = dict(d.spans) if d.speakers == 2 else {"unknown": tuple(spans)}
        # Each voice is transcribed in windows of its own speech, as each channel of a stereo call is:
        # Whisper then hears one party per window (another's loud words nearby change what it writes),
        # and the words it returns there are that voice's.
        turns: list[Turn] = []
        heard, detected = self._heard({voice: (samples, list(own)) for voice, own in voices.items()}, lang,
                                      {"*": hotwords.get("*") or hotwords.get("agent") or ""})
        for voice, own in voices.items():
            turns += _voice_turns({voice: own}, [w for w in heard[voice] if inside(w, list(own))], samples,
                                  tc.turn_gap)
        turns.sort(key=lambda t: (t.start, t.speaker))
        language = detected or "unknown"
        info = {"voices": d.speakers, "separation": d.separation, "contested": list(d.contested), **d.detail}
        if self._speaker is not None:
            info["speaker_model"] = {"name": SPEAKER_MODEL, "sha256": models.CATALOG[SPEAKER_MODEL].outputs()["ge2e.npz"]}
        common = dict(language=language, channels="mono", duration=round(rec.duration, 3), model=dict(self.info),
                      sounds={"unknown": tuple(unspoken_sounds(samples, spans))})
        if d.speakers < 2:
            # "One voice" may be two too alike: a second voice may have talked over the first anywhere,
            # and nothing shows where, so no overlap was measured (the judge's mono guards apply).
            info["roles_why"] = "one voice only, or two voices too alike to tell apart"
            return Transcript(tuple(turns), {"unknown": tuple(spans)}, roles="uncertain", role_confidence=0.0,
                              overlap_reliability="unmeasured", diarization=info, **common)
        if cues is None:
            decision = None
            info["roles_why"] = "no rule pack's cues to recognise the agent by"
        else:
            decision = decide({v: [(t.start, t.text) for t in turns if t.speaker == v] for v in d.spans},
                              cues(language if language in NAMES else tc.language), d.separation)
            info["role_evidence"] = decision.evidence
        info["min_confidence"] = dc.min_confidence
        sure = decision is not None and decision.agent is not None and decision.confidence >= dc.min_confidence
        if sure:
            names = {v: "agent" if v == decision.agent else "customer" for v in d.spans}
        else:
            names = {v: f"speaker-{v[1:]}" for v in d.spans}
            if decision is not None:
                info["roles_why"] = (f"role confidence {decision.confidence:.2f} below {dc.min_confidence:g}"
                                     if decision.agent else "no voice greets, names the company or announces a hold")
        turns = [t._replace(speaker=names[t.speaker]) for t in turns]
        return Transcript(tuple(turns), {names[v]: s for v, s in d.spans.items()},
                          roles="diarized" if sure else "uncertain",
                          role_confidence=decision.confidence if decision else 0.0,
                          overlap_reliability="unmeasured" if d.contested else "no-overlap", diarization=info,
                          **common)


def _voice_turns(voices: dict[str, list[tuple[float, float]]], words: list[Word], samples: np.ndarray,
                 turn_gap: float) -> list[Turn]:
    """Turns of each voice from its speech stretches; each word goes to the turn it overlaps most."""
    slots = [(v, s, e) for v, spans in voices.items() for s, e in group_turns(list(spans), turn_gap)]
    if not slots:
        return []
    owner = [max(range(len(slots)), key=lambda k: overlap(w, *slots[k][1:])) for w in words]
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

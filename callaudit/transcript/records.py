"""What a transcript is: words, turns, and the call's transcript, as small immutable records.

A Turn's times come from per-channel speech activity, never from Whisper's segment boundaries
(see vad.py); a Word keeps Whisper's own time and its probability, which the rules consult before
they fail anyone on a word heard unclearly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple


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
    # two voices told apart and every change of speaker had a pause), "unmeasured" (mono: a change
    # without a pause, where an overlap may have happened and its length cannot be told from the mix;
    # or the voices were not told apart, so an overlap may be anywhere), "none" (mono, separation off:
    # judged like "unmeasured" anywhere).
    overlap_reliability: str = ""
    diarization: dict = field(default_factory=dict)  # the figures behind the roles, for the call's data
    # Per party (mono: "unknown"), sounds as loud as speech that the speech detector did not take
    # for speech (vad.unspoken_sounds): a wait or a silence with one in it may not be one.
    sounds: dict[str, tuple[tuple[float, float], ...]] = field(default_factory=dict)

    def __post_init__(self):
        stereo = self.channels == "stereo"
        if not self.roles:
            object.__setattr__(self, "roles", "channels" if stereo else "none")
        if not self.overlap_reliability:
            object.__setattr__(self, "overlap_reliability", "channels" if stereo else "none")

    def by(self, speaker: str) -> list[Turn]:
        return [t for t in self.turns if t.speaker == speaker]

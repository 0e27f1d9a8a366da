"""What happened when: turns, response gaps, silences, announced holds, overlaps, raised voices.

All times come from speech activity and word times (see transcribe.py), never from Whisper's
segment boundaries. The rules read these figures; they do no timing arithmetic of their own.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from callaudit.text.intents import MATCH, UNSURE
from callaudit.text.matching import Phrases, find, stems
from callaudit.transcript.records import Transcript, Turn

if TYPE_CHECKING:
    from callaudit.analysis.meaning import CallMeaning


@dataclass(frozen=True)
class Gap:
    """The customer stopped at `start`; the agent started answering at `end`."""

    start: float
    end: float
    after: Turn   # the customer's turn
    answer: Turn  # the agent's turn
    on_hold: bool
    maybe_hold: bool = False  # inside a wait the agent may have announced (the words read unsure)

    @property
    def seconds(self) -> float:
        return round(self.end - self.start, 2)


@dataclass(frozen=True)
class Silence:
    start: float
    end: float
    on_hold: bool
    maybe_hold: bool = False

    @property
    def seconds(self) -> float:
        return round(self.end - self.start, 2)


@dataclass(frozen=True)
class Overlap:
    """`by` started talking at `start` while the other party was still speaking, for `seconds`."""

    by: str
    start: float
    seconds: float
    turn: Turn
    over: Turn


@dataclass(frozen=True)
class Timeline:
    transcript: Transcript
    language: str
    roles_known: bool
    holds: tuple[tuple[float, float, Turn], ...]  # (announced at end of turn, agent back, announcing turn)
    gaps: tuple[Gap, ...]
    silences: tuple[Silence, ...]
    overlaps: tuple[Overlap, ...]
    talk_ratio: float | None       # agent's share of all speech
    loudness_rel: dict[int, float]  # customer turn index in transcript.turns -> dB above own baseline
    meaning: "CallMeaning | None" = None  # the call's sentences judged against the pack's intents
    # Waits after a sentence that may announce a hold (its meaning read unsure): a silence there is
    # not judged as dead air, rather than failed on a guess.
    maybe_holds: tuple[tuple[float, float, Turn], ...] = ()

    @property
    def turns(self) -> tuple[Turn, ...]:
        return self.transcript.turns

    def maybe_announced(self, start: float, end: float) -> Turn | None:
        """The turn that may have announced a hold covering start..end (its meaning read unsure)."""
        return next((t for h0, h1, t in self.maybe_holds if h0 - 0.5 <= start and end <= h1 + 0.5), None)

    def tokens(self, turn: Turn, stemmed: bool = True) -> list[str]:
        return _tokens(turn, self.language, stemmed)

    def sounds_in(self, start: float, end: float, speakers: tuple[str, ...] | None = None) -> list[tuple[float, float]]:
        """Sounds as loud as speech, not taken for speech, that begin inside start..end (of
        `speakers`, all when None; a mono call's are "unknown" and count for anyone)."""
        return sorted((a, b) for who, spans in self.transcript.sounds.items()
                      if speakers is None or who in speakers or who == "unknown"
                      for a, b in spans if start < a < end)


@lru_cache(maxsize=4096)
def _tokens(turn: Turn, lang: str, stemmed: bool = True) -> list[str]:
    """One token per word of the turn, so that a match maps back to word times."""
    out = []
    for w in turn.words:
        s = stems(w.text, lang, stemmed)
        out.append(s[0] if s else "")
    return out


def _merge(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[list[float]] = []
    for s, e in sorted(spans):
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(s, e) for s, e in out]


def _announces(t: Turn, meaning: "CallMeaning | None", intent: str) -> str | None:
    """MATCH / UNSURE when a sentence of `t` announces a hold by its meaning, else None."""
    if meaning is None or not intent or meaning.unavailable:
        return None
    found = {sm.heard[intent].status for sm in meaning.of(t) if intent in sm.heard}
    return MATCH if MATCH in found else UNSURE if UNSURE in found else None


def build(tx: Transcript, hold_phrases: Phrases, threshold: float = 85.0,
          meaning: "CallMeaning | None" = None, hold_intent: str = "") -> Timeline:
    """Derive the call's timeline from its transcript; `hold_phrases` announce a hold, and so does
    a sentence that means `hold_intent` (when the call's `meaning` is given)."""
    lang = tx.language if tx.language in ("ru", "en") else "en"
    # A mono call counts once its voices were separated and the agent recognised with confidence.
    roles_known = tx.channels == "stereo" or tx.roles == "diarized"
    turns = tx.turns
    agent = [t for t in turns if t.speaker == "agent"]
    # On mono the speaker is unknown; a hold is still a hold whoever announced it (it is nearly
    # always the agent), and missing it would turn an announced hold into a false dead-air fail.
    # On a diarized mono call a turn may go to the wrong voice where both talk at once: there too
    # every turn may announce the hold.
    announcers = agent if tx.channels == "stereo" else list(turns)

    holds, maybe = [], []
    for i, t in enumerate(announcers):
        back = announcers[i + 1].start if i + 1 < len(announcers) else tx.duration
        # A phrase alone announces a hold: missing one turns a real hold into a dead-air fail.
        said = find(hold_phrases, _tokens(t, lang, hold_phrases.stemmed), threshold)
        meant = None if said else _announces(t, meaning, hold_intent)
        if said or meant == MATCH:
            holds.append((t.end, back, t))
        elif meant == UNSURE:
            maybe.append((t.end, back, t))

    def within(spans, start: float, end: float) -> bool:
        return any(h0 - 0.5 <= start and end <= h1 + 0.5 for h0, h1, _ in spans)

    def on_hold(start: float, end: float) -> bool:
        return within(holds, start, end)

    def maybe_hold(start: float, end: float) -> bool:
        return not on_hold(start, end) and within(maybe, start, end)

    gaps = []
    if roles_known:
        for a in agent:
            before = [t for t in turns if t.end <= a.start + 1e-6 and t is not a]
            if not before:
                continue
            last = max(before, key=lambda t: t.end)
            if last.speaker == "customer":
                gaps.append(Gap(last.end, a.start, last, a, on_hold(last.end, a.start), maybe_hold(last.end, a.start)))

    speech = _merge([s for spans in tx.activity.values() for s in spans])
    silences = [Silence(e0, s1, on_hold(e0, s1), maybe_hold(e0, s1)) for (_, e0), (s1, _) in zip(speech, speech[1:])]

    overlaps = []
    if roles_known:
        for t in turns:
            for o in turns:
                if o.speaker != t.speaker and o.start < t.start < o.end:
                    overlaps.append(Overlap(t.speaker, t.start, round(min(t.end, o.end) - t.start, 2), t, o))

    talk = {r: sum(e - s for s, e in tx.activity.get(r, ())) for r in ("agent", "customer")}
    total = talk["agent"] + talk["customer"]
    ratio = round(talk["agent"] / total, 3) if roles_known and total else None

    loud: dict[int, float] = {}
    cust = [(i, t) for i, t in enumerate(turns) if t.speaker == "customer"]
    for i, t in cust:
        others = [o.loudness_db for j, o in cust if j != i]
        if others:
            loud[i] = round(t.loudness_db - statistics.median(others), 2)

    return Timeline(tx, lang, roles_known, tuple(holds), tuple(gaps), tuple(silences),
                    tuple(sorted(overlaps, key=lambda o: o.start)), ratio, loud, meaning, tuple(maybe))

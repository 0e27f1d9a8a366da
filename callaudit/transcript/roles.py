"""Which voice is the agent: the one who answers, greets and names the company.

On a mono call the diarizer gives two unnamed voices. The agent is the voice whose first turns
hold the rule pack's greeting phrases or the configured company name, who announces holds, who
speaks first after the answer, and whom the other voice complains to; the evidence of both voices
is weighed and the margin between them becomes a confidence. A call whose confidence falls below the configured threshold is "roles
uncertain": its role-dependent rules are not evaluated rather than judged on a guess.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Protocol

from callaudit.text.matching import Phrases, find, stems

# Points of evidence that a voice is the agent's. A greeting or the company name in the first
# turns is what the method of the issue names; holds and speaking first support it.
GREETS, NAMES_COMPANY, GREETS_FIRST, ANNOUNCES_HOLD, SPEAKS_FIRST = 2.0, 2.0, 1.0, 1.0, 1.0
# The other voice clearly complains (the customer's intent): it backs the voice already ahead, never
# makes one ahead (an agent's «что-то пошло не так» must not name the customer the agent).
OTHER_COMPLAINS = 1.0
FIRST_TURNS = 2


class Meant(Protocol):
    """What a `means` cue answers: the sentence that holds the intent."""

    sentence: str


@dataclass(frozen=True)
class RoleCues:
    """The phrases that identify the agent: the judging pack's greeting and hold phrases and the
    configured company name (analysis.cues.role_cues builds them from the pack). `means(text,
    intent)`, when the pack describes its greeting and hold by intents: the sentence of `text` that
    clearly means that intent, or None — the same judge that will score the call, handed down as
    a callable because this layer knows nothing of packs."""

    language: str
    greeting: Phrases
    company: Phrases
    hold: Phrases
    fuzzy: float
    means: Callable[[str, str], Meant | None] | None = field(default=None, compare=False)
    greeting_intents: tuple[str, ...] = ()
    hold_intent: str = ""
    complaint_intents: tuple[str, ...] = ()


@dataclass(frozen=True)
class RoleDecision:
    agent: str | None       # the voice taken for the agent, or None when there is nothing to go on
    confidence: float       # 0..1, the separation of the voices times the strength of the evidence
    evidence: dict          # voice -> the points it scored and why, for the call's data


def _said(phrases: Phrases, texts: list[str], lang: str, fuzzy: float) -> tuple[int, str] | None:
    """(index of the first text that holds one of `phrases`, the phrase), or None."""
    if not phrases:
        return None
    for i, text in enumerate(texts):
        hit = find(phrases, stems(text, lang, phrases.stemmed), fuzzy)
        if hit:
            return i, hit.phrase
    return None


def _meant(cues: RoleCues, names: tuple[str, ...], texts: list[str]) -> tuple[int, str] | None:
    """(index of the first text that clearly means one of the intents `names`, its sentence)."""
    if cues.means is None:
        return None
    for i, text in enumerate(texts):
        for name in names:
            m = cues.means(text, name)
            if m is not None:
                return i, f"{m.sentence}», by meaning «{name}"
    return None


def decide(turns: dict[str, list[tuple[float, str]]], cues: RoleCues, separation: float) -> RoleDecision:
    """Weigh the evidence for each of two voices: `turns` maps a voice to its (start, text) turns."""
    voices = [v for v in turns if turns[v]]
    if len(voices) != 2:
        return RoleDecision(None, 0.0, {"why": "two voices are needed to tell agent from customer"})
    first_voice = min(voices, key=lambda v: turns[v][0][0])
    score, why, greeted_at = {}, {}, {}
    for v in voices:
        texts = [t for _, t in turns[v]]
        points, reasons = 0.0, []
        greet = (_said(cues.greeting, texts[:FIRST_TURNS], cues.language, cues.fuzzy)
                 or _meant(cues, cues.greeting_intents, texts[:FIRST_TURNS]))
        if greet:
            points += GREETS
            reasons.append(f"greets («{greet[1]}»)")
            greeted_at[v] = turns[v][greet[0]][0]
        named = _said(cues.company, texts[:FIRST_TURNS], cues.language, cues.fuzzy)
        if named:
            points += NAMES_COMPANY
            reasons.append(f"names the company («{named[1]}»)")
        hold = (_said(cues.hold, texts, cues.language, cues.fuzzy)
                or _meant(cues, (cues.hold_intent,) if cues.hold_intent else (), texts))
        if hold:
            points += ANNOUNCES_HOLD
            reasons.append(f"announces a hold («{hold[1]}»)")
        if v == first_voice:
            points += SPEAKS_FIRST
            reasons.append("speaks first")
        score[v], why[v] = points, reasons
    if len(greeted_at) == 2:  # both say hello: the one who greets first answered the phone
        v = min(greeted_at, key=greeted_at.get)
        score[v] += GREETS_FIRST
        why[v].append("greets first")
    agent = max(voices, key=lambda v: score[v])
    other = next(v for v in voices if v != agent)
    complained = _meant(cues, cues.complaint_intents, [t for _, t in turns[other]])
    if score[agent] > score[other] and complained and not (
            _meant(cues, cues.complaint_intents, [t for _, t in turns[agent]])):
        score[agent] += OTHER_COMPLAINS
        why[agent].append(f"the other voice complains («{complained[1]}»)")
    margin = score[agent] - score[other]
    # A greeting or the company name alone (2 points) is good evidence; speaking first or a hold
    # alone (1 point) is not enough for a verdict that can cost a job.
    strength = {0: 0.0, 1: 0.4, 2: 0.8, 3: 0.9}.get(int(margin), 0.95)
    evidence = {v: {"points": score[v], "why": why[v]} for v in voices}
    return RoleDecision(agent if margin > 0 else None, round(separation * strength, 3), evidence)

"""max-gap: the agent starts answering within `max_seconds` after the customer stops, except during
an announced hold."""

from __future__ import annotations

from callaudit.analysis.findings import Company, Finding, quote, result, span
from callaudit.analysis.kinds.base import REQUIRED, Kind


def _sounded(tl, g, limit: float) -> tuple[float, float] | None:
    """A sound on the agent's side, not taken for speech, that would make the wait no slow one
    if it was a word («Так.»): the wait is then not judged."""
    first = next(iter(tl.sounds_in(g.start, g.end, ("agent",))), None)
    return first if first and first[0] - g.start <= limit else None


def judge(rule, tl, company: Company) -> Finding:
    limit = rule.params["max_seconds"]
    counted = [g for g in tl.gaps if not g.on_hold]
    sounded = {g: s for g in counted if g.seconds > limit and (s := _sounded(tl, g, limit))}
    slow = [g for g in counted if g.seconds > limit and not g.maybe_hold and g not in sounded]
    doubtful = [g for g in counted if g.seconds > limit and g.maybe_hold]
    if sounded and not slow:
        g, (a, b) = max(sounded.items(), key=lambda x: x[0].seconds)
        return result(rule, None, g.start, f"not evaluated: {g.seconds:.1f} s without words in answer, but at "
                                           f"{a:.1f} s, {a - g.start:.1f} s after the customer, the agent's side "
                                           f"had a sound as loud as speech that no words were written for; it "
                                           f"may have been an answer, and a person should listen",
                      [quote(g.after), span(a, b, "a sound as loud as speech, without words"), quote(g.answer)])
    if doubtful and not slow:
        g = max(doubtful, key=lambda g: g.seconds)
        return result(rule, None, g.start, f"not evaluated: {g.seconds:.1f} s without an answer, after words that "
                                           f"may have announced a hold; a person should listen",
                      [quote(tl.maybe_announced(g.start, g.end)), span(g.start, g.end, f"{g.seconds:.1f} s without an answer"),
                       quote(g.answer)])
    if slow:
        worst = max(slow, key=lambda g: g.seconds)
        return result(rule, False, worst.start,
                      f"{len(slow)} answer(s) slower than {limit:g} s; slowest {worst.seconds:.1f} s",
                      [evidence for g in slow for evidence in
                       (quote(g.after), span(g.start, g.end, f"{g.seconds:.1f} s without an answer"), quote(g.answer))])
    if not counted:
        return result(rule, None, None, "not evaluated: the customer never waited for an answer")
    worst = max(counted, key=lambda g: g.seconds)
    return result(rule, True, worst.start, f"slowest answer {worst.seconds:.1f} s "
                                           f"(limit {limit:g} s, {len(counted)} answers)")


def mono_doubt(finding: Finding, contested) -> str | None:
    if finding.at is not None and any(finding.at - 10.0 <= t <= finding.at + 0.5 for t in contested):
        return "just before it both may have talked at once, where a mono mix may lose the words announcing a hold"
    return None


def live(rule) -> dict:
    return {"wait_limit": rule.params["max_seconds"]}


KIND = Kind("max-gap", {"max_seconds": (float, REQUIRED)}, judge, mono_doubt=mono_doubt, live=live)

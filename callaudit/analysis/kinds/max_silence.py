"""max-silence: no silence on both channels longer than `max_seconds`, or `hold_max_seconds` when the
agent announced a hold. Needs no roles: silence is silence whoever should have spoken."""

from __future__ import annotations

from callaudit.analysis.findings import Company, Finding, quote, result, span
from callaudit.analysis.kinds.base import REQUIRED, Kind
from callaudit.analysis.kinds.max_gap import mono_doubt


def _longest_between_sounds(tl, s) -> float:
    """The longest part of silence `s` between sounds as loud as speech that no words were
    written for: each may have been a word, so only what lies between them is sure silence."""
    cuts = [s.start, *(x for a, b in tl.sounds_in(s.start, s.end) for x in (a, b)), s.end]
    return round(max(b - a for a, b in zip(cuts[::2], cuts[1::2])), 2)


def judge(rule, tl, company: Company) -> Finding:
    p = rule.params
    over = [s for s in tl.silences if s.seconds > (p["hold_max_seconds"] if s.on_hold else p["max_seconds"])]
    bad = [s for s in over if _longest_between_sounds(tl, s) > (p["hold_max_seconds"] if s.on_hold
                                                                else p["max_seconds"])]
    sounded = [s for s in over if s not in bad]
    if sounded and not bad:
        s = max(sounded, key=lambda s: s.seconds)
        a, b = tl.sounds_in(s.start, s.end)[0]
        return result(rule, None, s.start, f"not evaluated: {s.seconds:.1f} s without speech at {s.start:.1f} s, "
                                           f"but with a sound as loud as speech at {a:.1f} s that no words were "
                                           "written for; if it was a word, no silence was too long, and a "
                                           "person should listen",
                      [span(s.start, s.end, f"{s.seconds:.1f} s without speech"),
                       span(a, b, "a sound as loud as speech, without words")])
    # After words that may have announced a hold, a silence too long for dead air but not for a
    # hold is not judged: it is a fail only if the hold was not announced, which is not sure.
    doubtful = [s for s in bad if s.maybe_hold and s.seconds <= p["hold_max_seconds"]]
    bad = [s for s in bad if s not in doubtful]
    if doubtful and not bad:
        s = doubtful[0]
        return result(rule, None, s.start, f"not evaluated: {s.seconds:.1f} s of silence at {s.start:.1f} s, after "
                                           "words that may have announced a hold; a person should listen",
                      [quote(tl.maybe_announced(s.start, s.end)), span(s.start, s.end, f"{s.seconds:.1f} s of silence")])
    if bad:
        return result(rule, False, bad[0].start, "; ".join(
            f"{s.seconds:.1f} s of silence at {s.start:.1f} s"
            + (f" (announced hold, limit {p['hold_max_seconds']:g} s)" if s.on_hold
               else f" (not announced as a hold, limit {p['max_seconds']:g} s)") for s in bad),
            [span(s.start, s.end, f"{s.seconds:.1f} s of silence") for s in bad])
    longest = max(tl.silences, key=lambda s: s.seconds, default=None)
    return result(rule, True, longest.start if longest else None,
                  f"longest silence {longest.seconds:.1f} s" + (" (an announced hold)" if longest.on_hold else "")
                  if longest else "no silence")


def live(rule) -> dict:
    return {"silence_limit": rule.params["max_seconds"]}


KIND = Kind("max-silence", {"max_seconds": (float, REQUIRED), "hold_max_seconds": (float, 120.0)}, judge,
            role_bound=False, mono_doubt=mono_doubt, live=live)

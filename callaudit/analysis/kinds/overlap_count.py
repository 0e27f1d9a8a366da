"""overlap-count: the speaker starts talking while the other is mid-sentence (for more than
`min_seconds`) at most `max_count` times."""

from __future__ import annotations

from callaudit.analysis.findings import Company, Finding, quote, result
from callaudit.analysis.kinds.base import REQUIRED, Kind, Problems, check_speakers


def check(p: dict) -> Problems:
    return check_speakers(p, "speaker")


def judge(rule, tl, company: Company) -> Finding:
    p = rule.params
    cuts = [o for o in tl.overlaps if o.by == p["speaker"] and o.seconds > p["min_seconds"]]
    evidence = [e for o in cuts for e in (quote(o.over), quote(o.turn))]
    if len(cuts) > p["max_count"]:
        return result(rule, False, cuts[0].start,
                      f"{len(cuts)} interruptions longer than {p['min_seconds']:g} s "
                      f"(at most {p['max_count']} allowed): "
                      + ", ".join(f"{o.start:.1f} s ({o.seconds:.1f} s)" for o in cuts), evidence)
    return result(rule, True, cuts[0].start if cuts else None,
                  f"{len(cuts)} interruption(s) longer than {p['min_seconds']:g} s", evidence)


KIND = Kind("overlap-count", {"speaker": (str, "agent"), "min_seconds": (float, 1.0), "max_count": (int, REQUIRED)},
            judge, check, needs_measured_overlap=True)

"""Stretches of time as people name them on the command line: `--since` and `--period` read one grammar.

    today, yesterday            that day                    2026-11            that month
    2026-11-24                  that day                    2026-11-01..2026-11-15   those days (inclusive)
    '2026-11-24 18:00'          from then until now         3d, 12h, last-7d   the last N days / hours

`--since X` takes the start of X. Days and months are the machine's local ones (the office's): a
report for "2026-11" covers November as the department lived it, not as UTC counts it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from callaudit.errors import CallauditError

FORMS = "today, yesterday, a day (2026-11-24), a time ('2026-11-24 18:00'), a month (2026-11), " \
        "the last N days or hours (3d, 12h, last-7d) or FROM..TO (2026-11-01..2026-11-15)"


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime  # exclusive
    label: str

    def __contains__(self, when: datetime) -> bool:
        return self.start <= when < self.end


def _day(d: date, tz) -> datetime:
    return datetime.combine(d, time(), tz)


def parse(text: str | None, option: str = "--period", now: datetime | None = None) -> Period:
    """The period `text` names (None or "": all time), or one CallauditError line naming `option`."""
    now = (now or datetime.now()).astimezone()
    tz = now.tzinfo
    if not text or not text.strip():
        return Period(datetime(1970, 1, 1).astimezone(), now + timedelta(days=1), "all time")
    t = text.strip().lower()
    today = _day(now.date(), tz)
    if t in ("today", "yesterday"):
        start = today - timedelta(days=t == "yesterday")
        return Period(start, start + timedelta(days=1), t)
    if m := re.fullmatch(r"(?:last-)?(\d+)\s*([dh])", t):
        n = int(m[1])
        span = timedelta(days=n) if m[2] == "d" else timedelta(hours=n)
        return Period(now - span, now + timedelta(seconds=1), f"last {n} {'days' if m[2] == 'd' else 'hours'}")
    try:
        if m := re.fullmatch(r"(\d{4})-(\d{2})", t):
            y, mo = int(m[1]), int(m[2])
            start = datetime(y, mo, 1, tzinfo=tz)
            return Period(start, datetime(y + (mo == 12), mo % 12 + 1, 1, tzinfo=tz), t)
        if m := re.fullmatch(r"(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})", t):
            a, b = date.fromisoformat(m[1]), date.fromisoformat(m[2])
            if b >= a:
                return Period(_day(a, tz), _day(b + timedelta(days=1), tz), f"{a} .. {b}")
        elif re.fullmatch(r"\d{4}-\d{2}-\d{2}", t):
            d = date.fromisoformat(t)
            return Period(_day(d, tz), _day(d + timedelta(days=1), tz), t)
        else:
            start = datetime.fromisoformat(text.strip())
            start = start if start.tzinfo else start.astimezone()
            return Period(start, max(now, start) + timedelta(seconds=1), f"since {start:%Y-%m-%d %H:%M}")
    except ValueError:
        pass
    raise CallauditError(f"bad {option} {text!r}: use {FORMS}")


def since(text: str, now: datetime | None = None) -> datetime:
    """The moment `--since text` means: the start of the period it names."""
    return parse(text, "--since", now).start

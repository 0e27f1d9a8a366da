"""The department's working calendar: timezone, working hours, lunch, working days, holidays.

Deadlines are read against it ("end of the day" is the end of the working day) and checked
against it (a deadline that lands outside working hours is stated as such, never moved). The
field names are the `[requests]` config keys, so an explanation can cite the setting it used.
Only the standard library: the config layer builds a `WorkingHours` from plain values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_WORDS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
END_OF_DAY = time(23, 59)  # the last minute of a calendar day: "today" said after working hours


@dataclass(frozen=True)
class WorkingHours:
    """When the department works. `workdays` are weekday numbers (Monday = 0); `holidays` are
    dates on which nobody works although they fall on a working weekday."""

    timezone: str = "Europe/Moscow"
    workday_start: time = time(9, 0)
    workday_end: time = time(18, 0)
    lunch_start: time = time(13, 0)
    lunch_end: time = time(14, 0)
    workdays: tuple[int, ...] = (0, 1, 2, 3, 4)
    holidays: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"timezone {self.timezone!r}: not an IANA zone name such as Europe/Moscow") from None
        if not self.workday_start < self.workday_end:
            raise ValueError(f"workday_start {self.workday_start:%H:%M} must come before "
                             f"workday_end {self.workday_end:%H:%M}")
        if not self.workday_start <= self.lunch_start <= self.lunch_end <= self.workday_end:
            raise ValueError(f"lunch {self.lunch_start:%H:%M}-{self.lunch_end:%H:%M} must lie inside the "
                             f"working day {self.workday_start:%H:%M}-{self.workday_end:%H:%M}")
        if not self.workdays or any(d not in range(7) for d in self.workdays):
            raise ValueError(f"workdays {self.workdays!r}: weekday numbers 0 (Monday) to 6 (Sunday)")

    @classmethod
    def from_settings(cls, timezone: str = "Europe/Moscow", workday_start: str = "09:00",
                      workday_end: str = "18:00", lunch_start: str = "13:00", lunch_end: str = "14:00",
                      workdays: str = "mon-fri", holidays: tuple[str, ...] = ()) -> "WorkingHours":
        """From the strings a config file holds: times "HH:MM", days "mon-fri" or "mon,tue,sat",
        holidays ISO dates. Raises ValueError naming the bad value."""
        try:
            days = tuple(sorted({d for part in workdays.lower().replace(" ", "").split(",") if part
                                 for d in _day_range(part)}))
            hols = frozenset(date.fromisoformat(h) for h in holidays)
        except ValueError as e:
            raise ValueError(f"workdays {workdays!r} / holidays {holidays!r}: {e}") from None
        return cls(timezone, _clock(workday_start, "workday_start"), _clock(workday_end, "workday_end"),
                   _clock(lunch_start, "lunch_start"), _clock(lunch_end, "lunch_end"), days, hols)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def local(self, moment: datetime) -> datetime:
        """`moment` in the department's timezone; a naive one is taken as already local there."""
        return moment.replace(tzinfo=self.tz) if moment.tzinfo is None else moment.astimezone(self.tz)

    def at(self, day: date, clock: time) -> datetime:
        """The aware moment `clock` on `day`. A wall time skipped by a DST change (02:30 on the
        spring-forward night) becomes the real moment after the gap, the earlier of a repeated one."""
        naive = datetime.combine(day, clock)
        return naive.replace(tzinfo=self.tz).astimezone(timezone.utc).astimezone(self.tz)

    def is_working_day(self, day: date) -> bool:
        return day.weekday() in self.workdays and day not in self.holidays

    def next_working_day(self, day: date, n: int = 1) -> date:
        """The n-th working day after `day` (`day` itself never counts)."""
        for _ in range(n):
            day += timedelta(days=1)
            while not self.is_working_day(day):
                day += timedelta(days=1)
        return day

    def working_day_on_or_after(self, day: date) -> date:
        return day if self.is_working_day(day) else self.next_working_day(day)

    def last_working_day_of_week(self, day: date) -> date | None:
        """The last working day of `day`'s Monday-to-Sunday week, None if that week has none."""
        sunday = day + timedelta(days=6 - day.weekday())
        return self._last_working_between(sunday, day - timedelta(days=day.weekday()))

    def last_working_day_of_month(self, day: date) -> date | None:
        first_next = (day.replace(day=1) + timedelta(days=32)).replace(day=1)
        return self._last_working_between(first_next - timedelta(days=1), day.replace(day=1))

    def _last_working_between(self, last: date, first: date) -> date | None:
        while last >= first:
            if self.is_working_day(last):
                return last
            last -= timedelta(days=1)
        return None

    def outside(self, moment: datetime) -> str | None:
        """Why `moment` is outside working hours ("Saturday, not a working day", "after 18:00"),
        None when inside. The end of the working day itself is inside."""
        m = self.local(moment)
        if m.date() in self.holidays:
            return f"{m.date():%Y-%m-%d} is a holiday"
        if m.weekday() not in self.workdays:
            return f"{DAY_WORDS[m.weekday()]}, not a working day"
        if m.time() < self.workday_start:
            return f"before {self.workday_start:%H:%M}"
        if m.time() > self.workday_end:
            return f"after {self.workday_end:%H:%M}"
        return None


def _clock(text: str, name: str) -> time:
    m = re.fullmatch(r"\s*(\d{1,2})[:.](\d{2})\s*", str(text))
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        raise ValueError(f"{name} {text!r}: a time of day like 09:00")
    return time(int(m.group(1)), int(m.group(2)))


def _day_range(part: str) -> range:
    if "-" in part:
        a, b = part.split("-", 1)
        i, j = _day(a), _day(b)
        if j < i:
            raise ValueError(f"{part!r} runs backwards; write e.g. mon-fri")
        return range(i, j + 1)
    return range(_day(part), _day(part) + 1)


def _day(name: str) -> int:
    if name[:3] not in DAY_NAMES:
        raise ValueError(f"{name!r} is not a day (mon, tue, wed, thu, fri, sat, sun)")
    return DAY_NAMES.index(name[:3])

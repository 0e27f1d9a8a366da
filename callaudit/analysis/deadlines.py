"""The deadline an agent's words promise, relative to the call's start.

«завтра до обеда» said in a call on Tuesday 24 November at 10:15 promises Wednesday 13:00. Days,
dates and durations are read by dateparser («завтра», «в понедельник», «25 ноября», «через 2 часа»,
"by Friday", "in two hours"); what it cannot read — parts of the working day, clock times that need
the working hours to be read, weeks and working days — comes from `deadline_words`. Conventions
(the department's `WorkingHours` give the times, so the explanation cites the setting used):

- a day without a time («завтра», "by Friday", «25 ноября») is due at the end of its working day;
- «до вечера», «до конца дня», "end of day", "later today" → the end of the working day (workday_end);
- «до обеда», "before lunch" → lunch_start; «в обед» → lunch_end; «утром», "morning" → noon;
  «с утра», "first thing" → the first hour of the working day (workday_start + 1 h);
- a bare hour («до двенадцати», «к пяти», "by five") is read as the next time the clock shows it
  inside working hours: «к пяти» at 10:15 is 17:00 today, «до двенадцати» at 22:30 is 12:00
  tomorrow (not midnight); likewise «до обеда» after lunch is the next working day's lunch;
- words that name today («сегодня до вечера», "later today", "end of day") keep today even when
  its working day is over: the deadline is then the day's last minute, said to be after hours;
- «до конца недели» → the end of the week's last working day (next week's once that has passed);
  «в течение 3 рабочих дней» → the end of the 3rd working day after the call's day;
- a duration («в течение часа», "within 24 hours") counts real time, across a DST change too;
- a deadline outside working hours is kept and said to be outside (never moved);
- when several times are said, the latest is the promise: a verdict that can cost a bonus gives
  the agent the benefit of the doubt; nothing said → `default_due_hours` after the call's start.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, timezone

from dateparser.date import DateDataParser
from dateparser.search import search_dates

from callaudit.analysis.deadline_words import SpokenPeriod, SpokenTime, find_spoken, for_dateparser, normalise
from callaudit.analysis.workhours import END_OF_DAY, WorkingHours

SOURCES = ("said", "default")
LANGUAGES = ("ru", "en")

WHY = {
    "end": "end of the working day, [requests] workday_end",
    "lunch": "lunch, [requests] lunch_start",
    "lunch_end": "the end of lunch, [requests] lunch_end",
    "morning": "the morning: by noon",
    "first": "first thing: the first hour of the working day, [requests] workday_start + 1 h",
    "noon": "noon",
    "midnight": "midnight: the end of the calendar day",
    "date": "a day without a time: the end of its working day, [requests] workday_end",
    "week_end": "the end of the week's last working day, [requests] workdays, workday_end",
    "next_week": "next week: the end of its last working day, [requests] workdays, workday_end",
    "month_end": "the end of the month's last working day, [requests] workdays, workday_end",
}
_LEAD = re.compile(r"^(?:через|в\s+течени[еи]|за|in|within|after)(?![\w])")  # a duration needs one
_UNIT = re.compile(r"(?<![\w])(?:минут\w*|час\w*|дн(?:я|ей|и)|день|сут\w*|недел\w*|месяц\w*|год\w*|лет|"
                   r"minutes?|hours?|days?|weeks?|months?|years?)(?![\w])")
_ANCHORED = re.compile(r"завтра|tomorrow|следующ|next|this|эт[оуи]")  # "day after tomorrow", "next month"
_TRAILING = {"и", "а", "но", "или", "в", "во", "к", "ко", "до", "на", "and", "or", "at", "by", "on", "in",
             "to", "the"}
_QUOTE_LEFT = {"до", "к", "ко", "в", "во", "на", "by", "until", "till", "before", "on", "within", "in"}
_NOT_DEADLINE_BEFORE = {"от", "с", "со", "since", "from"}  # «договор от 12 марта», «с понедельника»
# «мастер был у вас 20 ноября» said on the 24th: dateparser's "future" makes it next year's. A promise
# half a year ahead is not a service commitment; a past date read forward is the likelier mistake.
_HORIZON_DATES = 183
_HORIZON_DAYS = 16  # how far a bare «к пяти» may look for working hours (long holidays included)


@dataclass(frozen=True)
class Deadline:
    """A promised deadline. `due` is aware, in the department's timezone; `source` is "said" or
    "default"; `quote` the words it came from, `span` their character offsets in the text given
    and `words` their word indexes (into `text.split()`, so into a Turn's words) — None for a
    default; `explanation` one line for the evidence; `outside_hours` why `due` lies outside
    working hours, None when inside; `reading` the convention used ("lunch", "clock", "duration"…)."""

    due: datetime
    source: str
    quote: str
    span: tuple[int, int] | None
    words: tuple[int, int] | None
    explanation: str
    outside_hours: str | None
    reading: str


@dataclass(frozen=True)
class _Day:
    start: int
    end: int
    day: date


@dataclass(frozen=True)
class _Duration:
    start: int
    end: int
    delta: timedelta


def find_deadlines(text: str, call_start: datetime, hours: WorkingHours = WorkingHours(),
                   languages: tuple[str, ...] = LANGUAGES) -> list[Deadline]:
    """Every deadline said in `text` (an agent's turn or sentence), in text order. `call_start`
    is aware (a naive one is taken as local to `hours.timezone`); `languages` are tried by dateparser."""
    start = hours.local(call_start)
    norm = normalise(text)
    times, periods = find_spoken(norm)
    claimed = [(t.start, t.end) for t in times] + [(p.start, p.end) for p in periods]
    days, durations = _dateparser_finds(norm, *for_dateparser(norm, claimed), start, languages)
    out: list[Deadline] = []
    paired: set[int] = set()
    for t in times:
        i = _nearest_day(norm, t, days, paired)
        if i is not None:
            paired.add(i)
        elif t.needs_day:
            continue  # "good morning" is a greeting, "tomorrow morning" a time
        day = days[i] if i is not None else None
        due, reading, why, note = _resolve_time(t, day.day if day else None, start, hours)
        span = (min(t.start, day.start), max(t.end, day.end)) if day else (t.start, t.end)
        out.append(_deadline(text, span, due, reading, why, note, hours))
    for i, d in enumerate(days):
        if i not in paired:
            due, note = _on_day(d.day, hours.workday_end, start, hours)
            out.append(_deadline(text, (d.start, d.end), due, "date", WHY["date"], note, hours))
    for u in durations:
        due = (start.astimezone(timezone.utc) + u.delta).astimezone(start.tzinfo)
        why = f"{_human(u.delta)} after the call's start at {start:%H:%M}"
        out.append(_deadline(text, (u.start, u.end), due, "duration", why, None, hours))
    for p in periods:
        due, why = _resolve_period(p, start, hours)
        out.append(_deadline(text, (p.start, p.end), due, p.period, why, None, hours))
    return sorted(out, key=lambda d: d.span)


def deadline(text: str, call_start: datetime, hours: WorkingHours = WorkingHours(),
             default_due_hours: float = 24.0, languages: tuple[str, ...] = LANGUAGES) -> Deadline:
    """The deadline `text` promises: the latest one said, or the default when none is."""
    said = find_deadlines(text, call_start, hours, languages)
    if not said:
        return default_deadline(call_start, hours, default_due_hours)
    best = max(said, key=lambda d: (d.due, -d.span[0]))
    if len(said) > 1:
        others = ", ".join(f"«{d.quote}»" for d in said if d is not best)
        best = replace(best, explanation=f"{best.explanation}; the latest of {len(said)} said (also {others})")
    return best


def default_deadline(call_start: datetime, hours: WorkingHours = WorkingHours(),
                     default_due_hours: float = 24.0) -> Deadline:
    """Nothing said about when («мы вам перезвоним»): `default_due_hours` of real time after the call's start."""
    start = hours.local(call_start)
    due = (start.astimezone(timezone.utc) + timedelta(hours=default_due_hours)).astimezone(start.tzinfo)
    outside = hours.outside(due)
    explanation = (f"nothing said about when → {due:%Y-%m-%d %H:%M} (default: {default_due_hours:g} h after the "
                   f"call's start, [requests] default_due_hours)" + (f"; outside working hours: {outside}"
                                                                      if outside else ""))
    return Deadline(due, "default", "", None, None, explanation, outside, "default")


# ---------------------------------------------------------------- dateparser
def _dateparser_finds(norm: str, masked: str, rewritten: list[tuple[int, int]], start: datetime,
                      languages: tuple[str, ...]) -> tuple[list[_Day], list[_Duration]]:
    """The days and durations dateparser finds in what `deadline_words` left over. dateparser runs
    on naive local wall time with TIMEZONE=UTC: with a real zone in TIMEZONE it compares a bare time
    against RELATIVE_BASE shifted by the zone's offset (1.5.0), and wall-clock arithmetic on the
    local zone would be wrong across DST. Durations are re-applied to the aware start here."""
    base = start.replace(tzinfo=None)
    settings = {"RELATIVE_BASE": base, "PREFER_DATES_FROM": "future", "TIMEZONE": "UTC",
                "RETURN_AS_TIMEZONE_AWARE": False}
    found = search_dates(masked, languages=list(languages), settings=settings) or []
    parser = DateDataParser(languages=list(languages), settings=settings)
    days: list[_Day] = []
    durations: list[_Duration] = []
    cursor = 0
    for piece, _ in found:
        m = re.compile(r"\s+".join(re.escape(w) for w in piece.split())).search(masked, cursor)
        if not m:
            continue
        cursor = m.end()
        a, b = _trim(masked, m.start(), m.end())
        if b <= a or not re.search(r"\d|[^\W\d_]{4,}", masked[a:b]):
            continue  # "we" (Wednesday), "may": too short to be a date in a sentence
        before = norm[:a].split()
        if before and before[-1] in _NOT_DEADLINE_BEFORE:
            continue
        data = parser.get_date_data(masked[a:b])
        if data.date_obj is None:
            continue
        lead = bool(_LEAD.match(masked[a:b]))  # as rewritten: «минут через 10» → «через 10 минут»
        if before and before[-1] in _QUOTE_LEFT:
            a = len(norm[:a].rstrip()) - len(before[-1])  # quote «до пятницы», not «пятницы»
        for ra, rb in rewritten:
            if ra < b and rb > a:  # quote all the words a rewrite stood for: «к завтрашнему дню»
                a, b = min(a, ra), max(b, rb)
        if "time" in data.parts:
            delta = data.date_obj - base
            if lead and delta >= timedelta(minutes=1):  # «подождите 5 минут» is a hold, not a promise
                durations.append(_Duration(a, b, delta))
            continue
        day = data.date_obj.date()
        if "day" not in data.parts and not re.search(r"месяц|month", masked[a:b]):
            continue  # "on the 5th" comes back as May, "in March" as the 24th: without a day it guesses
        if _UNIT.search(masked[a:b]) and not lead and not _ANCHORED.search(masked[a:b]):
            continue  # «у вас два месяца не было оплаты»: an amount of time, not «через два месяца»
        if start.date() <= day <= start.date() + timedelta(days=_HORIZON_DATES):
            days.append(_Day(a, b, day))
    return days, durations


def _trim(text: str, a: int, b: int) -> tuple[int, int]:
    words = list(re.finditer(r"\S+", text[a:b]))
    while words and words[-1].group(0).strip(",.;:!?") in _TRAILING:
        words.pop()  # dateparser keeps a trailing «и»: «в пятницу и»
    return (a + words[0].start(), a + words[-1].end()) if words else (a, a)


def _nearest_day(norm: str, t: SpokenTime, days: list[_Day], paired: set[int]) -> int | None:
    """The day said next to a time («завтра до обеда», "by 5 pm tomorrow"): at most two words apart,
    in the same sentence, not joined by «или»/"or"."""
    best, best_gap = None, None
    for i, d in enumerate(days):
        if i in paired:
            continue
        gap = norm[d.end:t.start] if d.end <= t.start else norm[t.end:d.start] if t.end <= d.start else None
        if gap is None or re.search(r"[.!?;]", gap):
            continue
        words = re.findall(r"\w+", gap)
        if len(words) > 2 or {"или", "либо", "or"} & set(words):
            continue
        rank = (len(gap), d.start > t.start)  # the nearer, then the one before the time
        if best_gap is None or rank < best_gap:
            best, best_gap = i, rank
    return best


# ---------------------------------------------------------------- resolving
def _readings(t: SpokenTime, hours: WorkingHours) -> list[time]:
    if t.part == "clock" or t.part == "noon":
        return [time(h, t.minute) for h in t.hours]
    first = (datetime.combine(date.min, hours.workday_start) + timedelta(hours=1)).time()
    return [{"end": hours.workday_end, "lunch": hours.lunch_start, "lunch_end": hours.lunch_end,
             "morning": time(12), "first": first, "midnight": END_OF_DAY}[t.part]]


def _resolve_time(t: SpokenTime, day: date | None, start: datetime,
                  hours: WorkingHours) -> tuple[datetime, str, str, str | None]:
    """(due, reading, why, note) of a time of day, on `day` when one was said next to it."""
    readings = _readings(t, hours)
    why = WHY.get(t.part, "the time said")
    if day is None and t.today:
        day = start.date()
    if day is not None:
        inside = [r for r in readings if hours.outside(hours.at(day, r)) is None]
        clock = inside[0] if inside else next((r for r in readings if 7 <= r.hour <= 20), readings[0])
        if len(readings) > 1:
            why = f"the hour said, read as {clock:%H:%M}" + (" inside working hours" if inside else "")
        due, note = _on_day(day, clock, start, hours)
        return due, t.part, why, note
    candidates = []
    for n in range(_HORIZON_DAYS):
        d = start.date() + timedelta(days=n)
        if t.next_day and n == 0 and start.time() >= hours.workday_start:
            continue  # "first thing" said during the day means tomorrow's
        candidates += [m for m in sorted(hours.at(d, r) for r in readings) if m > start]
    due = next((m for m in candidates if hours.outside(m) is None), candidates[0])
    if len(readings) > 1:
        why = f"the hour said, read as the next {due:%H:%M}" + (
            " inside working hours" if hours.outside(due) is None else "")
    note = (None if due.date() == start.date() else "not today: said during the working day" if t.next_day
            and start.time() >= hours.workday_start else f"not today: {_passed(readings, start, hours)}")
    return due, t.part, why, note


def _passed(readings: list[time], start: datetime, hours: WorkingHours) -> str:
    later = [m for m in (hours.at(start.date(), r) for r in readings) if m > start]
    if later:
        return f"today's {later[0]:%H:%M} is outside working hours ({hours.outside(later[0])})"
    return f"{'/'.join(f'{r:%H:%M}' for r in readings)} had passed at the call's start ({start:%H:%M})"


def _on_day(day: date, clock: time, start: datetime, hours: WorkingHours) -> tuple[datetime, str | None]:
    """`clock` on `day`; a time already past on the call's own day becomes the day's last minute."""
    due = hours.at(day, clock)
    if due > start:
        return due, None
    return max(hours.at(day, END_OF_DAY), start), (
        f"{clock:%H:%M} had passed at the call's start ({start:%H:%M}): the end of that day")


def _resolve_period(p: SpokenPeriod, start: datetime, hours: WorkingHours) -> tuple[datetime, str]:
    today = start.date()
    if p.period == "month_day":
        due, note = _on_day(_month_day(today, p.n), hours.workday_end, start, hours)
        return due, f"day {p.n} of the month, at the end of its working day" + (f"; {note}" if note else "")
    if p.period == "workdays":
        n = max(p.n, 1)
        due = hours.at(hours.next_working_day(today, n), hours.workday_end)
        return due, f"{n} working day{'s' if n > 1 else ''} after the call's day, at the end of the working day"
    day = today + timedelta(days=7) if p.period == "next_week" else today
    for _ in range(8):  # a week (month) whose working days are all over or off: the next one's
        last_day = (hours.last_working_day_of_month if p.period == "month_end" else hours.last_working_day_of_week)(day)
        if last_day and hours.at(last_day, hours.workday_end) > start:
            return hours.at(last_day, hours.workday_end), WHY[p.period]
        day = ((day.replace(day=1) + timedelta(days=32)).replace(day=1) if p.period == "month_end"
               else day + timedelta(days=7))
    return hours.at(day, hours.workday_end), WHY[p.period]


def _month_day(today: date, n: int) -> date:
    """Day `n` (1-31) of this month if it is still ahead (or today), else of the next month that has one."""
    first = today.replace(day=1)
    while True:
        if n <= calendar.monthrange(first.year, first.month)[1]:
            day = first.replace(day=n)
            if day >= today:
                return day
        first = (first + timedelta(days=32)).replace(day=1)


# ---------------------------------------------------------------- the record
def _deadline(text: str, span: tuple[int, int], due: datetime, reading: str, why: str, note: str | None,
              hours: WorkingHours) -> Deadline:
    quote = " ".join(text[span[0]:span[1]].split())
    outside = hours.outside(due)
    explanation = f"«{quote}» → {due:%Y-%m-%d %H:%M} ({why})"
    explanation += (f"; {note}" if note else "") + (f"; outside working hours: {outside}" if outside else "")
    return Deadline(due, "said", quote, span, _word_span(text, span), explanation, outside, reading)


def _word_span(text: str, span: tuple[int, int]) -> tuple[int, int]:
    idx = [i for i, m in enumerate(re.finditer(r"\S+", text)) if m.end() > span[0] and m.start() < span[1]]
    return (idx[0], idx[-1] + 1) if idx else (0, 0)


def _human(delta: timedelta) -> str:
    minutes = round(delta.total_seconds() / 60)
    h, m = divmod(minutes, 60)
    return " ".join(p for p in (f"{h} h" if h else "", f"{m} min" if m else "") if p) or "0 min"

"""Deadlines from what agents say: a table of Russian and English expressions against fixed call times.

Each row: the words, the call's start, the deadline a supervisor would read from them, and whether
it was said or defaulted. The working hours are the defaults (Mon-Fri 09:00-18:00, lunch 13:00-14:00)
unless a test says otherwise.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from callaudit.analysis.deadlines import deadline, find_deadlines
from callaudit.analysis.workhours import WorkingHours

MSK, BER = ZoneInfo("Europe/Moscow"), ZoneInfo("Europe/Berlin")
TUE = datetime(2026, 11, 24, 10, 15, tzinfo=MSK)          # Tuesday morning
TUE_PM = datetime(2026, 11, 24, 15, 0, tzinfo=MSK)        # after lunch
TUE_LATE = datetime(2026, 11, 24, 22, 30, tzinfo=MSK)     # late evening, after hours
FRI = datetime(2026, 11, 27, 16, 0, tzinfo=MSK)
FRI_LATE = datetime(2026, 11, 27, 19, 0, tzinfo=MSK)
SUN = datetime(2026, 11, 29, 11, 0, tzinfo=MSK)
MON_MONTH_END = datetime(2026, 11, 30, 17, 0, tzinfo=MSK)  # last day of November, a Monday
YEAR_END = datetime(2026, 12, 31, 12, 0, tzinfo=MSK)       # Thursday
BER_FALL = datetime(2026, 10, 24, 20, 0, tzinfo=BER)       # Saturday; clocks go back at 03:00 on Sunday
BER_SPRING = datetime(2026, 3, 28, 23, 30, tzinfo=BER)     # Saturday; clocks go forward at 02:00 on Sunday
BERLIN = WorkingHours(timezone="Europe/Berlin")

ROWS = [
    # the issue's own expressions
    ("сегодня до вечера", TUE, "2026-11-24T18:00+03:00", "said"),
    ("завтра до обеда", TUE, "2026-11-25T13:00+03:00", "said"),
    ("в течение часа", TUE, "2026-11-24T11:15+03:00", "said"),
    ("в течение 24 часов", TUE, "2026-11-25T10:15+03:00", "said"),
    ("до конца недели", TUE, "2026-11-27T18:00+03:00", "said"),
    ("в понедельник", FRI, "2026-11-30T18:00+03:00", "said"),          # weekday wrap
    ("до двенадцати", TUE, "2026-11-24T12:00+03:00", "said"),
    ("к пяти", TUE, "2026-11-24T17:00+03:00", "said"),
    ("послезавтра", TUE, "2026-11-26T18:00+03:00", "said"),
    ("by tomorrow noon", TUE, "2026-11-25T12:00+03:00", "said"),
    ("within 24 hours", TUE, "2026-11-25T10:15+03:00", "said"),
    ("by Friday", SUN, "2026-12-04T18:00+03:00", "said"),              # a Sunday call: the coming Friday
    ("later today", TUE, "2026-11-24T18:00+03:00", "said"),
    ("by end of day", TUE, "2026-11-24T18:00+03:00", "said"),
    ("first thing tomorrow", TUE, "2026-11-25T10:00+03:00", "said"),
    ("in two hours", TUE, "2026-11-24T12:15+03:00", "said"),
    ("by 5 pm", TUE, "2026-11-24T17:00+03:00", "said"),
    # numbers as Whisper writes them
    ("до 12", TUE, "2026-11-24T12:00+03:00", "said"),
    ("к 5 вечера", TUE, "2026-11-24T17:00+03:00", "said"),
    ("в 17:00", TUE, "2026-11-24T17:00+03:00", "said"),
    ("в 17 часов", TUE, "2026-11-24T17:00+03:00", "said"),             # dateparser alone: "in 17 hours"
    ("by 5pm", TUE, "2026-11-24T17:00+03:00", "said"),
    ("in 2 hours", TUE, "2026-11-24T12:15+03:00", "said"),
    ("by five", TUE, "2026-11-24T17:00+03:00", "said"),
    ("к 2 дня", TUE, "2026-11-24T14:00+03:00", "said"),
    ("завтра в 9 утра", TUE, "2026-11-25T09:00+03:00", "said"),
    ("завтра к пяти", TUE, "2026-11-25T17:00+03:00", "said"),
    ("до 12-ти", TUE, "2026-11-24T12:00+03:00", "said"),
    ("в половине шестого", TUE, "2026-11-24T17:30+03:00", "said"),
    ("by 3 this afternoon", TUE, "2026-11-24T15:00+03:00", "said"),
    ("минут через 10 перезвоню", TUE, "2026-11-24T10:25+03:00", "said"),  # spoken word order
    ("к завтрашнему дню", TUE, "2026-11-25T18:00+03:00", "said"),
    ("до 25 числа", FRI, "2026-12-25T18:00+03:00", "said"),            # the 25th has passed: December's
    # filler words around the expression
    ("ну я думаю что завтра до обеда точно сделаем", TUE, "2026-11-25T13:00+03:00", "said"),
    ("ok, so I'll call you back in 30 minutes, all right?", TUE, "2026-11-24T10:45+03:00", "said"),
    ("мастер придёт в пятницу и всё проверит", TUE, "2026-11-27T18:00+03:00", "said"),
    ("договор от 12 марта, завтра перезвоню", TUE, "2026-11-25T18:00+03:00", "said"),  # not March
    ("сегодня или завтра до обеда", TUE, "2026-11-25T13:00+03:00", "said"),           # the later one
    # before and after lunch, end of day, late evening
    ("до обеда", TUE, "2026-11-24T13:00+03:00", "said"),
    ("до обеда", TUE_PM, "2026-11-25T13:00+03:00", "said"),
    ("до обеда", FRI, "2026-11-30T13:00+03:00", "said"),                # Friday afternoon: Monday's lunch
    ("до двенадцати", TUE_PM, "2026-11-25T12:00+03:00", "said"),
    ("до двенадцати", TUE_LATE, "2026-11-25T12:00+03:00", "said"),     # noon tomorrow, not midnight
    ("later today", TUE_LATE, "2026-11-24T23:59+03:00", "said"),       # today is kept, stated after hours
    ("сегодня до вечера", TUE_LATE, "2026-11-24T23:59+03:00", "said"),
    ("до вечера", TUE_LATE, "2026-11-25T18:00+03:00", "said"),
    ("by end of day", TUE_LATE, "2026-11-24T23:59+03:00", "said"),
    ("в течение часа", TUE_LATE, "2026-11-24T23:30+03:00", "said"),
    ("перезвоню через 2 часа", TUE_LATE, "2026-11-25T00:30+03:00", "said"),
    ("к пяти", FRI, "2026-11-27T17:00+03:00", "said"),
    ("к пяти", FRI_LATE, "2026-11-30T17:00+03:00", "said"),            # the next working day's 17:00
    # weeks, months, working days
    ("до конца недели", FRI, "2026-11-27T18:00+03:00", "said"),
    ("до конца недели", SUN, "2026-12-04T18:00+03:00", "said"),        # this week's working days are over
    ("на следующей неделе", TUE, "2026-12-04T18:00+03:00", "said"),
    ("до конца месяца", MON_MONTH_END, "2026-11-30T18:00+03:00", "said"),
    ("в течение 3 рабочих дней", FRI, "2026-12-02T18:00+03:00", "said"),
    ("до пятницы", TUE, "2026-11-27T18:00+03:00", "said"),
    ("в пятницу до обеда", TUE, "2026-11-27T13:00+03:00", "said"),
    ("в понедельник", MON_MONTH_END, "2026-12-07T18:00+03:00", "said"),  # said on a Monday: next Monday
    ("tomorrow morning", TUE, "2026-11-25T12:00+03:00", "said"),
    # month and year wrap
    ("завтра до обеда", MON_MONTH_END, "2026-12-01T13:00+03:00", "said"),
    ("послезавтра", YEAR_END, "2027-01-02T18:00+03:00", "said"),
    ("в понедельник", YEAR_END, "2027-01-04T18:00+03:00", "said"),
    # "the next": as agents say it (the series' English lines do)
    ("within the next hour", TUE, "2026-11-24T11:15+03:00", "said"),
    ("I will get back to you within the next two hours", TUE, "2026-11-24T12:15+03:00", "said"),
    ("within the hour", TUE, "2026-11-24T11:15+03:00", "said"),
    ("I will get back to you before 5 o 'clock today", TUE, "2026-11-24T17:00+03:00", "said"),  # as Whisper wrote it
    ("в течение ближайшего часа", TUE, "2026-11-24T11:15+03:00", "said"),
    ("в ближайший час перезвоню", TUE, "2026-11-24T11:15+03:00", "said"),
    ("специалист свяжется в ближайшее время", TUE, "2026-11-25T10:15+03:00", "default"),  # no time said
    # nothing said: the default, 24 h
    ("мы вам перезвоним", TUE, "2026-11-25T10:15+03:00", "default"),
    ("у меня два вопроса", TUE, "2026-11-25T10:15+03:00", "default"),
    ("подождите 5 минут", TUE, "2026-11-25T10:15+03:00", "default"),   # a hold, not a promise
]

# Europe/Berlin changes clocks; Moscow does not. Durations count real time, days count wall time.
BERLIN_ROWS = [
    ("in 4 hours", BER_SPRING, "2026-03-29T04:30+02:00", "said"),
    ("within 24 hours", BER_FALL, "2026-10-25T19:00+01:00", "said"),
    ("by Monday", BER_FALL, "2026-10-26T18:00+01:00", "said"),
    ("завтра до обеда", BER_FALL, "2026-10-25T13:00+01:00", "said"),
    ("мы вам перезвоним", BER_FALL, "2026-10-25T19:00+01:00", "default"),
]


# Words around a call that are not deadlines: greetings, numbers, opening hours, dates in the past.
NOT_DEADLINES = [
    "Здравствуйте, компания Ромашка, меня зовут Анна, чем могу помочь?",
    "Ваш номер договора 4 5 1 2, тариф 500 рублей",
    "у вас два месяца не было оплаты",
    "мастер был у вас 20 ноября",
    "звоните с 9 до 18",
    "я вам в 3 раза объясняю",
    "хорошего вечера, всего доброго",
    "Good morning, thank you for calling",
    "at one point we had an outage",
    "we check them one by one",
    "your contract started in March",
]


@pytest.mark.parametrize("text", NOT_DEADLINES)
def test_no_deadline_in(text):
    assert find_deadlines(text, TUE) == []


def _id(row) -> str:
    return f"{row[0]} @ {row[1]:%a %H:%M}"


@pytest.mark.parametrize("text, start, due, source", ROWS, ids=[_id(r) for r in ROWS])
def test_moscow_table(text, start, due, source):
    d = deadline(text, start)
    assert (d.due.isoformat(timespec="minutes"), d.source) == (due, source), d.explanation


@pytest.mark.parametrize("text, start, due, source", BERLIN_ROWS, ids=[_id(r) for r in BERLIN_ROWS])
def test_berlin_table_across_dst(text, start, due, source):
    d = deadline(text, start, BERLIN)
    assert (d.due.isoformat(timespec="minutes"), d.source) == (due, source), d.explanation


def test_the_table_is_big_enough():
    assert len(ROWS) + len(BERLIN_ROWS) >= 40


def test_explanation_cites_words_and_setting():
    d = deadline("завтра до обеда", TUE)
    assert d.explanation == "«завтра до обеда» → 2026-11-25 13:00 (lunch, [requests] lunch_start)"
    assert d.reading == "lunch" and d.outside_hours is None


def test_evidence_points_at_the_words_in_the_turn():
    text = "Ну я думаю, что завтра до обеда точно сделаем"
    d = deadline(text, TUE)
    assert d.quote == "завтра до обеда"
    assert text[d.span[0]:d.span[1]] == "завтра до обеда"
    assert text.split()[d.words[0]:d.words[1]] == ["завтра", "до", "обеда"]


def test_outside_working_hours_is_stated_not_moved():
    late = deadline("later today", TUE_LATE)
    assert late.due.hour == 23 and late.outside_hours == "after 18:00"
    assert "outside working hours: after 18:00" in late.explanation
    saturday = deadline("послезавтра", YEAR_END)
    assert saturday.outside_hours == "Saturday, not a working day"
    assert deadline("в течение часа", TUE).outside_hours is None


def test_default_is_marked_as_default():
    d = deadline("мы вам перезвоним", TUE, default_due_hours=4)
    assert d.source == "default" and d.quote == "" and d.span is None
    assert d.due.isoformat(timespec="minutes") == "2026-11-24T14:15+03:00"
    assert "[requests] default_due_hours" in d.explanation


def test_several_times_said_the_latest_counts_and_all_are_listed():
    text = "сейчас уточню, через 2 часа перезвоню, а мастер приедет в пятницу"
    said = find_deadlines(text, TUE)
    assert [d.quote for d in said] == ["через 2 часа", "в пятницу"]
    d = deadline(text, TUE)
    assert d.quote == "в пятницу" and "the latest of 2 said (also «через 2 часа»)" in d.explanation


def test_working_hours_come_from_parameters():
    shop = WorkingHours.from_settings(timezone="Asia/Yekaterinburg", workday_start="08:00", workday_end="17:00",
                                      lunch_start="12:00", lunch_end="13:00", workdays="mon-sat")
    start = datetime(2026, 11, 27, 10, 0, tzinfo=ZoneInfo("Asia/Yekaterinburg"))  # Friday
    assert deadline("сегодня до вечера", start, shop).due.isoformat(timespec="minutes") == "2026-11-27T17:00+05:00"
    assert deadline("до обеда", start, shop).due.hour == 12
    # Saturday works here, so three working days from Friday end on Tuesday
    assert deadline("в течение 3 рабочих дней", start, shop).due.date() == date(2026, 12, 1)
    # a call time in another zone is read in the department's zone
    utc = datetime(2026, 11, 27, 5, 0, tzinfo=ZoneInfo("UTC"))
    assert deadline("в течение часа", utc, shop).due.isoformat(timespec="minutes") == "2026-11-27T11:00+05:00"


def test_holidays_are_off_days_and_said_so():
    hols = WorkingHours(holidays=frozenset(date(2027, 1, d) for d in range(1, 9)))
    late = datetime(2026, 12, 31, 15, 0, tzinfo=MSK)
    assert deadline("до обеда", late, hols).due.isoformat(timespec="minutes") == "2027-01-11T13:00+03:00"
    told = deadline("завтра до обеда", late, hols)
    assert told.due.date() == date(2027, 1, 1) and told.outside_hours == "2027-01-01 is a holiday"


def test_bad_working_hours_are_one_clear_error():
    with pytest.raises(ValueError, match="workday_start '9am': a time of day like 09:00"):
        WorkingHours.from_settings(workday_start="9am")
    with pytest.raises(ValueError, match="not an IANA zone"):
        WorkingHours(timezone="Moscow")
    with pytest.raises(ValueError, match="lunch 19:00-20:00 must lie inside"):
        WorkingHours.from_settings(lunch_start="19:00", lunch_end="20:00")


def test_works_without_a_network():
    """dateparser reads nothing from the network: no socket is opened, and it works in a namespace
    that has no network at all (`unshare -rn`, where the kernel allows it)."""
    probe = textwrap.dedent("""
        import sys
        seen = []
        sys.addaudithook(lambda event, args: seen.append(event) if event.startswith("socket.") else None)
        from datetime import datetime
        from zoneinfo import ZoneInfo
        from callaudit.analysis.deadlines import deadline
        d = deadline("завтра до обеда или в пятницу", datetime(2026, 11, 24, 10, 15, tzinfo=ZoneInfo("Europe/Moscow")))
        print(d.due.isoformat(timespec="minutes"), seen)
    """)
    plain = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert plain.stdout.split() == ["2026-11-27T18:00+03:00", "[]"], plain.stderr
    offline = subprocess.run(["unshare", "-rn", sys.executable, "-c", probe], capture_output=True, text=True,
                             timeout=120)
    if offline.returncode != 0 and "unshare" in offline.stderr:
        pytest.skip(f"user namespaces not available here: {offline.stderr.strip()}")
    assert offline.stdout.split() == ["2026-11-27T18:00+03:00", "[]"], offline.stderr

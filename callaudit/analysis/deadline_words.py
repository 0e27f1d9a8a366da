"""What a call centre says about *when* that dateparser cannot read, found in a transcript's text.

dateparser (see deadlines.py) resolves the days and durations: «завтра», «в понедельник»,
«25 ноября», «через 2 часа», "by Friday", "in two hours". This module holds the small layer it
lacks, in Russian and English as Whisper writes them:

- parts of the working day: «до вечера», «до обеда», «с утра», "end of day", "later today", "first thing";
- clock times whose reading needs the working hours: «до двенадцати», «к пяти», «к 5 вечера»,
  «в 17:00», "by 5 pm" (dateparser reads «в 17 часов» as "in 17 hours", «в 5» as the 5th of
  the month, and compares times in the wrong zone when TIMEZONE is set);
- periods of the working calendar: «до конца недели», "next week", «в течение 3 рабочих дней».

It also rewrites a few word forms into ones dateparser knows («до пятницы» → «в пятницу»,
"within" → "in"), keeping every character offset so that spans still point into the transcript.
Text is matched after `normalise` (lower case, ё → е), which keeps the length too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# ---------------------------------------------------------------- numbers as Whisper writes them
_RU_HOURS = {
    1: "один одного одному часу", 2: "два двух двум", 3: "три трех трем", 4: "четыре четырех четырем",
    5: "пять пяти", 6: "шесть шести", 7: "семь семи", 8: "восемь восьми", 9: "девять девяти",
    10: "десять десяти", 11: "одиннадцать одиннадцати", 12: "двенадцать двенадцати",
    13: "тринадцать тринадцати", 14: "четырнадцать четырнадцати", 15: "пятнадцать пятнадцати",
    16: "шестнадцать шестнадцати", 17: "семнадцать семнадцати", 18: "восемнадцать восемнадцати",
    19: "девятнадцать девятнадцати", 20: "двадцать двадцати", 21: "двадцать_один двадцати_одного",
    22: "двадцать_два двадцати_двух", 23: "двадцать_три двадцати_трех",
}
_EN_HOURS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight",
             9: "nine", 10: "ten", 11: "eleven", 12: "twelve"}
HOUR_WORDS = {w.replace("_", " "): h for table in (_RU_HOURS, _EN_HOURS) for h, ws in table.items()
              for w in ws.split()}
MINUTE_WORDS = {"ноль ноль": 0, "ноль-ноль": 0, "пятнадцать": 15, "пятнадцати": 15, "тридцать": 30,
                "тридцати": 30, "сорок пять": 45, "сорока пяти": 45, "fifteen": 15, "thirty": 30,
                "forty-five": 45, "forty five": 45}
# Small counts of days (working days): «в течение трех рабочих дней», "within two business days".
COUNT_WORDS = {"одного": 1, "один": 1, "одних": 1, "двух": 2, "два": 2, "трех": 3, "три": 3, "четырех": 4,
               "четыре": 4, "пяти": 5, "пять": 5, "шести": 6, "семи": 7, "десяти": 10, "десять": 10,
               "one": 1, "a": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "ten": 10}


def _alt(words) -> str:
    # Longest first, so that «двадцати одного» wins over «двадцати».
    return "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in sorted(words, key=len, reverse=True))


def normalise(text: str) -> str:
    """Lower case and ё → е, keeping every character where it was (spans stay valid)."""
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in text).replace("ё", "е")


# ---------------------------------------------------------------- what was found
@dataclass(frozen=True)
class SpokenTime:
    """A time of day said, without its day. `part` names the convention: "clock" (then `hours`
    are the readings of the number said, `fixed` when only one is possible: «в 17:00», "5 pm"),
    "end", "lunch", "lunch_end", "morning", "first", "noon", "midnight". `today`: the words
    themselves say today ("later today"); `next_day`: during working hours it means the next day
    ("first thing"); `needs_day`: it is a time only next to a day ("tomorrow morning", not "good morning")."""

    start: int
    end: int
    part: str
    hours: tuple[int, ...] = ()
    minute: int = 0
    fixed: bool = True
    today: bool = False
    next_day: bool = False
    needs_day: bool = False


@dataclass(frozen=True)
class SpokenPeriod:
    """A stretch of the working calendar: "week_end", "next_week", "month_end", "workdays" (`n` of
    them), "month_day" (day `n` of this month, or of the next once it has passed: «до 25 числа»)."""

    start: int
    end: int
    period: str
    n: int = 0


_B = r"(?<![\w])"   # word boundaries that also hold next to Cyrillic and digits
_E = r"(?![\w])"
_DAY = r"(?:рабочего\s+|этого\s+|сегодняшнего\s+)?дня"

# (part, flag, patterns); tried in this order, the first claim of a stretch of text wins. Flags:
# "today" the words name today; "next_day" during working hours they mean the next day ("first thing");
# "needs_day" they count only next to a day ("tomorrow morning"), or a greeting would ("good morning").
PARTS = (
    ("first", "next_day", (r"первым\s+делом(?:\s+с\s+(?:самого\s+)?утра)?", r"с\s+(?:самого\s+)?утра",
                           r"в\s+начале\s+(?:рабочего\s+)?дня", r"first\s+thing(?:\s+in\s+the\s+morning)?",
                           r"(?:at\s+)?the\s+start\s+of\s+(?:the\s+)?(?:business\s+|working\s+)?day")),
    ("end", "today", (r"later\s+today", r"(?:by\s+|before\s+|until\s+|till\s+)?(?:the\s+)?(?:end|close)\s+of\s+"
                      r"(?:the\s+)?(?:business\s+|working\s+|work\s+)?day(?:\s+today)?",
                      r"(?:by\s+)?(?:eod|cob)", r"this\s+(?:evening|afternoon)", r"tonight",
                      rf"до\s+(?:самого\s+)?конца\s+{_DAY}", rf"к\s+концу\s+{_DAY}", rf"в\s+течени[еи]\s+{_DAY}",
                      r"during\s+the\s+day")),
    ("end", "", (r"до\s+(?:самого\s+)?вечера", r"к\s+вечеру", r"вечером", r"днем", r"после\s+обеда",
                 r"во\s+второй\s+половине\s+дня", r"in\s+the\s+(?:evening|afternoon)", r"after\s+lunch")),
    ("end", "needs_day", (r"evening", r"afternoon")),
    ("lunch", "", (r"до\s+обеда", r"к\s+обеду", r"перед\s+обедом", r"в\s+первой\s+половине\s+дня",
                   r"(?:by|before|until|till)\s+lunch(?:time)?")),
    ("lunch_end", "", (r"в\s+обед", r"во\s+время\s+обеда", r"(?:at|over|during)\s+lunch(?:time)?")),
    ("noon", "", (r"(?:до|к|около|в)\s+полудн[яю]", r"(?:в\s+)?полдень",
                  r"(?:(?:by|at|before|until|till|around)\s+)?(?:noon|midday)")),
    ("midnight", "", (r"(?:до|к)\s+полуночи", r"(?:(?:by|before|until|till|at)\s+)?midnight")),
    ("morning", "", (r"утром", r"(?:in\s+the\s+|this\s+)morning")),
    ("morning", "needs_day", (r"morning",)),
)

PERIODS = (
    ("workdays", (r"(?:в\s+течени[еи]|за|через)\s+(?P<n>\d+|COUNT)\s+рабоч\w*\s+(?:дн\w*|сут\w*)",
                  r"(?:within|in)\s+(?P<n>\d+|COUNT)\s+(?:business|working)\s+days?")),
    ("month_day", (r"(?:(?:до|к|ко|на)\s+)?(?P<n>\d{1,2})(?:-?(?:го|му|е))?\s+чис(?:ла|лу)",
                   r"(?:(?:by|on|before|until)\s+)?the\s+(?P<n>\d{1,2})(?:st|nd|rd|th)(?!\s+of)")),
    ("week_end", (r"(?:до\s+конца|к\s+концу)\s+(?:этой\s+|текущей\s+)?недели", r"на\s+этой\s+неделе",
                  r"(?:by|before|until)\s+(?:the\s+)?end\s+of\s+(?:the\s+|this\s+)?week", r"this\s+week",
                  r"(?:by\s+)?eow")),
    ("next_week", (r"на\s+следующей\s+неделе", r"(?:в\s+течение|до\s+конца)\s+следующей\s+недели",
                   r"(?:by\s+the\s+end\s+of\s+|during\s+)?next\s+week")),
    ("month_end", (r"(?:до\s+конца|к\s+концу)\s+(?:этого\s+|текущего\s+)?месяца", r"в\s+этом\s+месяце",
                   r"(?:by|before|until)\s+(?:the\s+)?end\s+of\s+(?:the\s+|this\s+)?month", r"this\s+month")),
)

# A number after «до», «к», "by" is a clock time unless a unit or a month follows: «до 12 декабря»,
# «в 3 этапа», «к 2 дням» are not times.
_NOT_A_TIME = (r"(?!\s*(?:-?(?:го|е|й|th|st|nd|rd)\b)?\s*(?:числ|январ|феврал|март|апрел|ма[яй]|июн|июл|август|"
               r"сентябр|октябр|ноябр|декабр|минут|секунд|дн|день|недел|месяц|год|лет|раз|рубл|тысяч|процент|"
               r"этап|рабоч|штук|человек|%|jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|minute|second|"
               r"day|week|month|year|percent|dollar|euro|ruble|hours?\b|business|working))")
_PREFIXES = (r"до|к|ко|в|во|около|не\s+позже|не\s+позднее|примерно\s+(?:к|в)|by|at|before|until|till|around|"
             r"no\s+later\s+than")
_PREFIX = rf"(?P<pre>{_PREFIXES})\s+"
# 17:00, 17.00 (Whisper writes both; a dot only before round minutes, or «до 10.12» would be 10:12), «12-ти»
_HOUR = (rf"(?:(?P<h>\d{{1,2}})(?::(?P<m>\d{{2}})|\.(?P<m2>00|15|30|45))?(?:-(?:ти|ми|х|и))?(?!\d|[.:]\d)"
         rf"|(?P<hw>{_alt(HOUR_WORDS)})(?:\s+(?P<mw>{_alt(MINUTE_WORDS)}))?{_E})")
_UNIT = r"(?:\s*(?P<unit>часов|часам|часа|час|o\s?'?\s?clock))?"  # Whisper writes "5 o 'clock" too
_QUAL = (r"(?:\s*(?P<q>утра|дня|вечера|ночи|a\.?m\.?|p\.?m\.?|(?:in\s+the|this)\s+(?:morning|afternoon|evening)|"
         r"at\s+night|tonight)(?![\w]))?")
CLOCK = re.compile(_B + _PREFIX + _HOUR + _UNIT + _QUAL + _NOT_A_TIME)
# Without «до»/"by" a number is a time only when it looks like one: 17:00, 5 pm, 5 вечера, 5 o'clock.
CLOCK_BARE = re.compile(_B + r"(?P<pre>)" + _HOUR + _UNIT + _QUAL + _NOT_A_TIME)
# Half hours: «в половине шестого», «к полпятого» (5:30 and 4:30), "at half past three".
ORDINALS = {"первого": 1, "второго": 2, "третьего": 3, "четвертого": 4, "пятого": 5, "шестого": 6,
            "седьмого": 7, "восьмого": 8, "девятого": 9, "десятого": 10, "одиннадцатого": 11, "двенадцатого": 12}
CLOCK_HALF = re.compile(_B + rf"(?:(?P<pre>{_PREFIXES})\s+)?(?:(?:половин[аеуы]\s*|пол)(?P<ord>{_alt(ORDINALS)})|"
                        rf"half\s+past\s+(?P<past>\d{{1,2}}|{_alt(_EN_HOURS.values())})){_E}" + _QUAL)

# Forms dateparser does not read, each rewritten to one it does, never longer (offsets are kept).
_WEEKDAYS = {"понедельник": "понедельника понедельнику понедельником", "вторник": "вторника вторнику вторником",
             "среду": "среды среде средой", "четверг": "четверга четвергу четвергом",
             "пятницу": "пятницы пятнице пятницей", "субботу": "субботы субботе субботой",
             "воскресенье": "воскресенья воскресенью воскресеньем"}
REWRITES = tuple((re.compile(_B + re.escape(form) + _E), base) for base, forms in _WEEKDAYS.items()
                 for form in forms.split()) + tuple((re.compile(_B + a + _E), b) for a, b in (
    (r"within", "in"), (r"a\s+couple\s+of", "2"), (r"couple\s+of", "2"), (r"half\s+an\s+hour", "30 minutes"),
    (r"двадцати\s+четырех", "24"), (r"сорока\s+восьми", "48"), (r"семидесяти\s+двух", "72")))

# Spoken Russian puts the number last: «минут через 10», «часа через два», «через минут 10». Swapping the
# words back («через 10 минут») keeps the length.
_UNITS = r"(?P<unit>минут\w*|час\w*|дн\w*|дней|недел\w*)"
_COUNT = r"(?P<n>\d+|пару|пять|десять|пятнадцать|двадцать|тридцать|сорок|два|три|четыре)"
SWAPS = (re.compile(_B + _UNITS + r"\s+через\s+" + _COUNT + _E),
         re.compile(_B + r"через\s+" + _UNITS + r"\s+" + _COUNT + _E))
REWRITES += tuple((re.compile(_B + a + _E), b) for a, b in (
    (r"завтрашн\w*\s+дн\w*", "завтра"), (r"сегодняшн\w*\s+дн\w*", "сегодня"),
    # "within the next hour", «в течение ближайшего часа»: the next N is just N ("within" is "in" by now)
    (r"in\s+the\s+next\s+hour", "in 1 hour"), (r"in\s+the\s+hour", "in 1 hour"), (r"in\s+the\s+next", "in"),
    (r"в\s+течение\s+ближайш\w+", "в течение"), (r"в\s+ближайший\s+час", "в течение часа")))


def _pattern(p: str) -> re.Pattern:
    return re.compile(_B + p.replace("COUNT", _alt(COUNT_WORDS)) + _E)


_PARTS = tuple((part, flag, tuple(_pattern(p) for p in ps)) for part, flag, ps in PARTS)
_PERIODS = tuple((period, tuple(_pattern(p) for p in ps)) for period, ps in PERIODS)


def _free(claimed: list[tuple[int, int]], a: int, b: int) -> bool:
    return all(b <= s or a >= e for s, e in claimed)


def find_spoken(norm: str) -> tuple[list[SpokenTime], list[SpokenPeriod]]:
    """The call-centre idioms and clock times in `norm` (a `normalise`d text), not overlapping,
    in text order. Periods are claimed first, then clock times («к 5 вечера» before «вечера»),
    then parts of the day."""
    claimed: list[tuple[int, int]] = []
    periods: list[SpokenPeriod] = []
    times: list[SpokenTime] = []
    for period, patterns in _PERIODS:
        for rx in patterns:
            for m in rx.finditer(norm):
                if _free(claimed, m.start(), m.end()):
                    n = m.groupdict().get("n")
                    count = (int(n) if n.isdigit() else COUNT_WORDS[n]) if n else 0
                    if period == "month_day" and not 1 <= count <= 31:
                        continue
                    periods.append(SpokenPeriod(m.start(), m.end(), period, count))
                    claimed.append(m.span())
    for rx in (CLOCK_HALF, CLOCK, CLOCK_BARE):
        for m in rx.finditer(norm):
            t = _half(m) if rx is CLOCK_HALF else _clock(m, bare=rx is CLOCK_BARE)
            if t and _free(claimed, t.start, t.end):
                times.append(t)
                claimed.append((t.start, t.end))
    for part, flag, patterns in _PARTS:
        for rx in patterns:
            for m in rx.finditer(norm):
                a, b = m.start() + len(m.group(0)) - len(m.group(0).lstrip()), m.end()
                if b > a and _free(claimed, a, b):
                    hours = (12,) if part == "noon" else ()
                    times.append(SpokenTime(a, b, part, hours, today=flag == "today", next_day=flag == "next_day",
                                            needs_day=flag == "needs_day"))
                    claimed.append((a, b))
    return sorted(times, key=lambda t: t.start), sorted(periods, key=lambda p: p.start)


_EN_FOLLOW = {"today", "tomorrow", "tonight", "and", "or", "then", "on", "latest", "sharp", "please", "ok", "okay",
              "the", "i", "we", "you", "someone", "our", "at", "if", "so"}


def _clock(m: re.Match, bare: bool) -> SpokenTime | None:
    """The readings of one clock time: «к пяти» may be 05:00 or 17:00, «к 5 вечера» only 17:00."""
    g = m.groupdict()
    if g["h"] is not None:
        h, minute = int(g["h"]), int(g["m"] or g["m2"] or 0)
    else:
        h = HOUR_WORDS[re.sub(r"\s+", " ", g["hw"])]
        minute = MINUTE_WORDS.get(re.sub(r"\s+", " ", g["mw"] or ""), 0)
    q = (g["q"] or "").replace(".", "").replace(" ", "")
    said_minutes = bool(g["m"] or g["m2"] or g["mw"])
    before, after = m.string[:m.start()], m.string[m.end():]
    if g["pre"] in ("до", "until", "till") and re.search(r"(?:^|\s)(?:с|from)\s+\S+\s*$", before):
        return None  # «звоните с 9 до 18»: opening hours, not a deadline
    if g["pre"] and g["pre"].isascii() and not (q or said_minutes or g["unit"]):
        # English bare hours: "at one point", "at 5 stores", "one by one" are not times
        nxt = re.match(r"\s*([^\W\d_]+)", after)
        if (nxt and nxt.group(1) not in _EN_FOLLOW) or (g["hw"] and before.rstrip().endswith(g["hw"])):
            return None
    if bare and not ((q and (q != "дня" or said_minutes)) or said_minutes or (g["unit"] or "").startswith("o")):
        return None  # a lone number is not a time: «у меня 2 вопроса»; «2 дня» is two days
    if h > 23 or minute > 59 or (q and h > 12):
        return None
    if q in ("утра", "am", "inthemorning", "thismorning"):
        hours, fixed = (0 if h == 12 else h,), True
    elif q in ("дня", "вечера", "pm", "intheafternoon", "intheevening", "thisafternoon", "thisevening", "tonight"):
        hours, fixed = (h if h == 12 else h + 12,), True
    elif q in ("ночи", "atnight"):
        hours, fixed = ((0 if h == 12 else h + 12 if h >= 9 else h),), True
    elif h == 0 or h >= 13 or (said_minutes and g["h"] and g["h"].startswith("0")):
        hours, fixed = (h,), True  # 24-hour reading: «в 17:00», «в 09:30»
    else:
        hours, fixed = ((12, 0) if h == 12 else (h, h + 12)), False
    start = m.start() if g["pre"] else m.start("h") if g["h"] is not None else m.start("hw")
    end = m.end() - (len(m.group(0)) - len(m.group(0).rstrip()))
    return SpokenTime(start, end, "clock", hours, minute, fixed)


def _half(m: re.Match) -> SpokenTime | None:
    """«в половине шестого» is half past five: the hour before the ordinal said."""
    g = m.groupdict()
    if g["ord"]:
        h = ORDINALS[g["ord"]] - 1 or 12
    else:
        h = int(g["past"]) if g["past"].isdigit() else HOUR_WORDS[g["past"]]
    q = (g["q"] or "").replace(".", "").replace(" ", "")
    if not 1 <= h <= 12:
        return None
    if q in ("утра", "am", "inthemorning", "thismorning"):
        hours, fixed = (h % 12,), True
    elif q:
        hours, fixed = (h % 12 + 12,), True
    else:
        hours, fixed = ((12, 0) if h == 12 else (h, h + 12)), False
    end = m.end() - (len(m.group(0)) - len(m.group(0).rstrip()))
    return SpokenTime(m.start(), end, "clock", hours, 30, fixed)


def for_dateparser(norm: str, claimed: list[tuple[int, int]]) -> tuple[str, list[tuple[int, int]]]:
    """`norm` with the stretches already read blanked out and a few forms rewritten into ones
    dateparser knows, at the same length, so that what dateparser finds maps back to the text;
    and the spans rewritten, so that a quote can cover all the words a rewrite stood for."""
    chars = list(norm)
    for a, b in claimed:
        chars[a:b] = " " * (b - a)
    text = "".join(chars)
    spans: list[tuple[int, int]] = []

    def sub(rx: re.Pattern, make, text: str) -> str:
        def one(m: re.Match) -> str:
            spans.append(m.span())
            return make(m).ljust(len(m.group(0)))
        return rx.sub(one, text)

    for rx, base in REWRITES:
        text = sub(rx, lambda m, base=base: base, text)
    for rx in SWAPS:
        text = sub(rx, lambda m: f"через {m['n']} {m['unit']}", text)
    return text, spans

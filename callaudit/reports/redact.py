"""Masking card, phone and passport numbers in every transcript shown or exported.

Customers dictate numbers, and Whisper writes them as numerals or as words («восемь девятьсот
шестнадцать…», "four one one one…"). A run of numerals and number words is read as a digit string
and masked by its length: 13-19 digits a card, 10-12 a phone (a passport when «паспорт» or
"passport" is near), 7-9 a phone. Amounts of money are left alone. Over-masking an order number is
a small cost; leaking a card number to a report is not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from callaudit.errors import CallauditError

KINDS = ("card", "phone", "passport")
LABELS = {"card": "[card number]", "phone": "[phone number]", "passport": "[passport number]",
          "pattern": "[redacted]"}

_UNITS = {
    "ноль": 0, "нуль": 0, "один": 1, "одна": 1, "одно": 1, "два": 2, "две": 2, "три": 3, "четыре": 4,
    "пять": 5, "шесть": 6, "семь": 7, "восемь": 8, "девять": 9,
    "zero": 0, "oh": 0, "o": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9,
}
_TEENS = {
    "десять": 10, "одиннадцать": 11, "двенадцать": 12, "тринадцать": 13, "четырнадцать": 14,
    "пятнадцать": 15, "шестнадцать": 16, "семнадцать": 17, "восемнадцать": 18, "девятнадцать": 19,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}
_TENS = {
    "двадцать": 20, "тридцать": 30, "сорок": 40, "пятьдесят": 50, "шестьдесят": 60, "семьдесят": 70,
    "восемьдесят": 80, "девяносто": 90,
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
    "ninety": 90,
}
_HUNDREDS = {
    "сто": 100, "двести": 200, "триста": 300, "четыреста": 400, "пятьсот": 500, "шестьсот": 600,
    "семьсот": 700, "восемьсот": 800, "девятьсот": 900,
}
_MONEY = re.compile(r"^(руб|рубл|коп|доллар|евро|dollar|euro|cent|pound|usd|eur|\$|€|₽)", re.I)
_PASSPORT_WORDS = re.compile(r"паспорт|серия|passport", re.I)
_TOKEN = re.compile(r"\d+|[^\W\d_]+|[^\w\s]|\s+", re.UNICODE)
_JOINERS = {"-", "(", ")", "+", ",", "–"}


def _number_word(token: str) -> bool:
    t = token.lower().replace("ё", "е")
    return t in _UNITS or t in _TEENS or t in _TENS or t in _HUNDREDS or t == "hundred"


def _digits(words: list[str]) -> str:
    """The digit string a run of numerals and number words stands for ("сто двадцать три" -> "123")."""
    out, value, state = [], 0, "start"  # state: what the current group may take next

    def flush():
        nonlocal value, state
        if state != "start":
            out.append(str(value))
        value, state = 0, "start"

    for w in words:
        t = w.lower().replace("ё", "е")
        if t.isdigit():
            flush()
            out.append(t)
        elif t in _HUNDREDS:
            flush()
            value, state = _HUNDREDS[t], "hundreds"
        elif t == "hundred":
            value, state = (value or 1) * 100, "hundreds"
        elif t in _TENS:
            if state not in ("start", "hundreds"):
                flush()
            value, state = value + _TENS[t], "tens"
        elif t in _TEENS:
            if state not in ("start", "hundreds"):
                flush()
            value, state = value + _TEENS[t], "done"
        elif t in _UNITS:
            if state not in ("start", "hundreds", "tens") or (state == "start" and _UNITS[t] == 0):
                flush()
            value, state = value + _UNITS[t], "done"
            if _UNITS[t] == 0:
                flush()
    flush()
    return "".join(out)


@dataclass(frozen=True)
class Redactor:
    """Masks numbers by kind; `patterns` are extra regular expressions from the config."""

    kinds: tuple[str, ...] = KINDS
    min_digits: int = 7
    patterns: tuple[re.Pattern, ...] = field(default=())
    enabled: bool = True

    @classmethod
    def from_config(cls, cfg) -> "Redactor":
        rc = cfg.redaction
        unknown = [k for k in rc.kinds if k not in KINDS]
        if unknown:
            raise CallauditError(f"{cfg.source}: [redaction] kinds: unknown {', '.join(unknown)}; "
                                 f"choose from {', '.join(KINDS)}")
        patterns = []
        for p in rc.patterns:
            try:
                patterns.append(re.compile(p))
            except re.error as e:
                raise CallauditError(f"{cfg.source}: [redaction] patterns: bad regular expression {p!r}: {e}") from None
        return cls(tuple(rc.kinds), rc.min_digits, tuple(patterns), rc.enabled)

    def kind(self, digits: str, before: str) -> str | None:
        n = len(digits)
        # A Russian passport is dictated in parts (series 45 12, number 345678) after «паспорт».
        if n >= 4 and n <= 12 and _PASSPORT_WORDS.search(before[-60:]):
            kind = "passport"
        elif n < self.min_digits:
            return None
        elif 13 <= n <= 19:
            kind = "card"
        else:
            kind = "phone"
        return kind if kind in self.kinds else None

    def text(self, text: str) -> str:
        """`text` with every number of a masked kind replaced by its label."""
        if not self.enabled or not text:
            return text
        tokens = [m.group(0) for m in _TOKEN.finditer(text)]
        out, i = [], 0
        while i < len(tokens):
            if not (tokens[i].isdigit() or _number_word(tokens[i])):
                out.append(tokens[i])
                i += 1
                continue
            j, last = i, i  # extend the run over numerals, number words and the marks between them
            while j + 1 < len(tokens) and (tokens[j + 1].isspace() or tokens[j + 1] in _JOINERS
                                            or tokens[j + 1].isdigit() or _number_word(tokens[j + 1])):
                j += 1
                if tokens[j].isdigit() or _number_word(tokens[j]):
                    last = j
            run = [t for t in tokens[i:last + 1] if t.isdigit() or _number_word(t)]
            after = "".join(tokens[last + 1:last + 4]).strip()
            kind = None if _MONEY.match(after) else self.kind(_digits(run), "".join(out))
            if kind:
                if out and out[-1] == "+":
                    out.pop()
                out.append(LABELS[kind])
            else:
                out.extend(tokens[i:last + 1])
            i = last + 1
        masked = "".join(out)
        for p in self.patterns:
            masked = p.sub(LABELS["pattern"], masked)
        return masked

    def word_spans(self, words: list[tuple[float, float, str]]) -> list[tuple[float, float]]:
        """Times of the words that the text mask hides, so that audio clips can be silenced there."""
        if not self.enabled:
            return []
        spans, i = [], 0
        while i < len(words):
            if not _numberish(words[i][2]):
                i += 1
                continue
            j = i
            while j + 1 < len(words) and _numberish(words[j + 1][2]):
                j += 1
            before = " ".join(w[2] for w in words[max(0, i - 6):i])
            after = words[j + 1][2] if j + 1 < len(words) else ""
            run = [t for w in words[i:j + 1] for t in _TOKEN.findall(w[2]) if t.isdigit() or _number_word(t)]
            if not _MONEY.match(after.strip()) and self.kind(_digits(run), before):
                spans.append((words[i][0], words[j][1]))
            i = j + 1
        return spans


def _numberish(word: str) -> bool:
    toks = [t for t in _TOKEN.findall(word) if not t.isspace() and t not in _JOINERS and t not in ".!?;:"]
    return bool(toks) and all(t.isdigit() or _number_word(t) for t in toks)


def redact_result(result: dict, redactor: Redactor) -> dict:
    """A copy of a verdict JSON with every transcript text and evidence quote masked."""
    if not redactor.enabled:
        return result
    out = dict(result)
    out["transcript"] = [{**t, "text": redactor.text(t["text"])} for t in result.get("transcript", [])]
    out["findings"] = [{**f, "detail": redactor.text(f.get("detail", "")),
                        "evidence": [{**e, "quote": redactor.text(e.get("quote") or "")} for e in f.get("evidence", [])]}
                       for f in result.get("findings", [])]
    return out

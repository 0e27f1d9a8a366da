"""A turn's words cut into sentences, each knowing which words it holds.

Intents are judged per sentence, not per turn: a turn "Sorry about that. Call back later." holds
an apology and a brush-off, and one vector for the whole turn would be neither. Whisper writes
punctuation, so a sentence ends at a word ending in . ! ? or …; a sentence keeps the indices of
its first and last word so that its evidence maps back to the words' times in the call.

Whisper sometimes leaves a long stretch unpunctuated (and a phone line makes that likelier):
such a stretch is cut at commas, and failing that into overlapping windows, so that no sentence
is much longer than the examples it is compared with.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from callaudit.text.matching import normalise

MAX_WORDS = 24  # the longest example utterances are ~15 words; a vector of 60 words is mush
_END = re.compile(r"[.!?…]+[\"»”')\]]*$")
_COMMA = re.compile(r"[,;:—–]+[\"»”')\]]*$")


@dataclass(frozen=True)
class Sentence:
    """Words first..last (inclusive indices into the turn's words) and their text."""

    text: str
    first: int
    last: int


def _pieces(words: list[str], first: int, last: int, boundary: re.Pattern) -> list[tuple[int, int]]:
    out, start = [], first
    for i in range(first, last + 1):
        if boundary.search(words[i].strip()) or i == last:
            out.append((start, i))
            start = i + 1
    return out


def _windows(first: int, last: int, size: int) -> list[tuple[int, int]]:
    # Half-overlapping windows: a phrase that straddles a cut is still whole in one of them.
    step = max(1, size // 2)
    out = []
    for start in range(first, last + 1, step):
        end = min(start + size - 1, last)
        out.append((start, end))
        if end == last:
            break
    return out


def split(words: list[str], max_words: int = MAX_WORDS) -> list[Sentence]:
    """The sentences of a turn given as its words (Whisper word texts, punctuation attached).

    Words that normalise to nothing (a lone dash) stay inside their sentence but a sentence of
    only such words is dropped.
    """
    spans: list[tuple[int, int]] = []
    for first, last in _pieces(words, 0, len(words) - 1, _END) if words else []:
        if last - first + 1 <= max_words:
            spans.append((first, last))
            continue
        for a, b in _pieces(words, first, last, _COMMA):
            spans.extend([(a, b)] if b - a + 1 <= max_words else _windows(a, b, max_words))
    out = []
    for first, last in spans:
        text = " ".join(w.strip() for w in words[first:last + 1]).strip()
        if normalise(text):
            out.append(Sentence(text, first, last))
    return out


def split_text(text: str, max_words: int = MAX_WORDS) -> list[Sentence]:
    """`split` for plain text (examples, tests): words are whitespace-separated."""
    return split(text.split(), max_words)


def clauses(text: str, min_words: int = 2) -> list[str]:
    """The comma-separated parts of a sentence that have `min_words` words or more, when it has
    two parts or more: «Это не мой вопрос, звоните в банк.» → both halves. A brush-off or an
    apology is often one clause of a longer sentence, and the whole sentence's vector dilutes it.
    """
    words = text.split()
    parts = _pieces(words, 0, len(words) - 1, _COMMA) if words else []
    if len(parts) < 2:
        return []
    out = [" ".join(words[a:b + 1]) for a, b in parts]
    return [c for c in out if len(normalise(c).split()) >= min_words]


# Words of a salutation, normalised: a time-of-day greeting and the fillers that open a call.
_SALUTE = {
    "ru": ({"здравствуйте", "здравствуй", "привет", "приветствую", "алло", "добрый", "доброе", "доброго",
            "доброй"},
           {"день", "дня", "утро", "утра", "вечер", "вечера", "ночи", "да", "еще", "раз", "вам", "и"}),
    "en": ({"hello", "hi", "hey", "morning", "afternoon", "evening"},
           {"good", "day", "yes", "yeah", "there", "and", "again"}),
}


def after_salutation(text: str, language: str) -> str | None:
    """What a sentence says after the salutation it opens with, or None when it opens with none:
    «Добрый день, я бы хотел подключить телевидение.» → «я бы хотел подключить телевидение.»

    A customer greets and asks in one breath, and Whisper writes it as one sentence; the greeting
    then pulls the sentence's vector away from the request. Only a whole first clause (up to its
    comma) made of salutation words is cut, and only when two words or more remain."""
    core, filler = _SALUTE.get(language, _SALUTE["en"])
    words, cut, greeted = text.split(), None, False
    for i, w in enumerate(words):
        said = normalise(w).split()
        if not said or any(s not in core and s not in filler for s in said):
            break
        greeted = greeted or any(s in core for s in said)
        if _COMMA.search(w.strip()) or _END.search(w.strip()):
            cut = i + 1 if greeted else cut  # «Алло, здравствуйте, …»: clause after clause
    rest = words[cut:] if cut else []
    return " ".join(rest) if len(normalise(" ".join(rest)).split()) >= 2 else None

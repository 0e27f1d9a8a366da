"""Phrase matching that survives ASR errors and Russian morphology.

Text is normalised (case, punctuation, ё→е, digits kept), each word reduced to its Snowball stem,
and a phrase matches a run of words whose stems are close enough (rapidfuzz ratio >= threshold).
So «благодарим за звонок» also matches «благодарю за ваш звонок», and an ASR slip such as
«здраствуйте» still matches «здравствуйте». Where inflection carries the meaning (the imperative
«перезвоните позже» is rude, «я перезвоню позже» is a commitment) a rule compares plain words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import snowballstemmer
from rapidfuzz import fuzz

_WORD = re.compile(r"[\w]+(?:['’][\w]+)?", re.UNICODE)
STEMMERS = {"ru": "russian", "en": "english"}
SINGLE_WORD = 95.0


def normalise(text: str) -> str:
    """Lower case, ё→е, punctuation dropped, one space between words."""
    text = text.lower().replace("ё", "е").replace("’", "'")
    return " ".join(_WORD.findall(text))


@lru_cache(maxsize=4)
def _stemmer(lang: str):
    return snowballstemmer.stemmer(STEMMERS.get(lang, "english"))


def stems(text: str, lang: str, stem: bool = True) -> list[str]:
    """The words of `text`, normalised and (with `stem`) reduced to their Snowball stems."""
    words = normalise(text).split()
    return _stemmer(lang).stemWords(words) if words and stem else words


@dataclass(frozen=True)
class Phrase:
    text: str
    stems: tuple[str, ...]


@dataclass(frozen=True)
class Phrases:
    """A rule's phrase list; `stemmed` False when inflection matters («перезвоните» is not «перезвоню»)."""

    items: tuple[Phrase, ...]
    stemmed: bool = True

    def __bool__(self) -> bool:
        return bool(self.items)


def compile_phrases(phrases: list[str], lang: str, stem: bool = True) -> Phrases:
    return Phrases(tuple(Phrase(p, tuple(stems(p, lang, stem))) for p in phrases if stems(p, lang, stem)), stem)


@dataclass(frozen=True)
class Hit:
    phrase: str
    first: int  # index of the first matched word
    last: int   # index of the last matched word (inclusive)
    score: float


def find(phrases: Phrases, words: list[str], threshold: float) -> Hit | None:
    """The best phrase match in `words` (a turn's stems, or its plain words for unstemmed phrases).

    A window of words is compared with the phrase as a whole string (rapidfuzz ratio).
    """
    best: Hit | None = None
    for ph in phrases.items:
        n = len(ph.stems)
        target = " ".join(ph.stems)
        # One short stem leaves fuzzy matching little to go on («ожида» ~ «ожидан» is 91):
        # a one-word phrase must match nearly exactly.
        need = max(threshold, SINGLE_WORD) if n == 1 else threshold
        # Stemmed phrases allow one word more or less (ASR insertions, deletions); plain-word
        # phrases, used where a slip changes the meaning, must match word for word.
        for size in {n, n + 1, n - 1} if n >= 3 and phrases.stemmed else {n}:
            for i in range(0, len(words) - size + 1):
                cand = " ".join(words[i:i + size])
                score = fuzz.ratio(target, cand)
                if score >= need and (best is None or score > best.score):
                    best = Hit(ph.text, i, i + size - 1, score)
                    if score == 100:
                        return best
    return best

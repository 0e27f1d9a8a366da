"""What a sentence is turned into before an intent is judged: its meaning and its words.

Two views of one sentence, side by side:
- its sentence embedding (text.embeddings), centred on the pack's examples: what it means,
  whatever the wording;
- its lexical features: lemmas, lemma pairs, a token for any "by when" (today, до пятницы, within
  the hour), "!" and "?", and each verb with its doer («перезвонить@listener»
  vs «перезвонить@speaker»). Embeddings alone put «перезвоните позже» and «я перезвоню позже» at
  cosine 0.97, and "goodbye" near "good morning"; the words tell them apart, the embedding
  carries the paraphrases the words do not share.

The lexical part is a binary bag, L2-normalised, so that the dot product of two sentences' bags
is their share of common features (a cosine), on the same scale as the embeddings' cosine.
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np

from callaudit.text import lemmas as lx

# Measured on the tuning part (cross-validated), with the embeddings scaled to unit length:
# 2.0 beats 1.5 and 3.0 (and 0, 0.5 and 1.0 before that scaling).
LEXICAL_WEIGHT = 2.0

# "By when" is what makes a commitment, and a time is said in too many words to learn each:
# one token stands for any of them.
_WHEN = {
    "ru": re.compile(r"\b(сегодня|завтра|послезавтра|понедельник\w*|вторник\w*|сред[аыуе]|четверг\w*|"
                     r"пятниц\w*|суббот\w*|воскресень\w*|в течение|через (\w+ )?(минут\w*|час\w*|дн\w*|"
                     r"недел\w*|полчаса)|до (конца|обеда|вечера|утра|понедельника|пятницы|\d+|\w+(ти|ми|и|х))|"
                     r"к (вечеру|утру|обеду|пятнице|понедельнику|\d+|\w+(и|ти|ми)) ?(час\w*|утра|вечера)?|"
                     r"прямо сейчас|в ближайш\w+)\b"),
    "en": re.compile(r"\b(today|tomorrow|tonight|monday|tuesday|wednesday|thursday|friday|saturday|sunday|"
                     r"within|by (the end|end|noon|\d+|\w+ (am|pm|o'clock))|in (an|a|\d+|\w+) (minutes?|hours?|"
                     r"days?|weeks?)|before (noon|\d+|\w+)|this (afternoon|evening|morning|week)|right now|"
                     r"later today|first thing)\b"),
}


@lru_cache(maxsize=50_000)
def lexical(text: str, lang: str) -> frozenset[str]:
    """The lexical features of a sentence: lemmas, adjacent lemma pairs, verb@doer."""
    forms = lx.forms(text, lang)
    toks = [f.lemma for f in forms]
    feats = set(toks) | {f"{a}_{b}" for a, b in zip(toks, toks[1:])}
    feats |= {f"{f.lemma}@{who}" for f in forms for who in f.actors}
    if _WHEN.get(lang, _WHEN["en"]).search(" ".join(f.word for f in forms)):
        feats.add("<when>")
    # Whisper writes "!" for a raised voice and "?" for a question: a complaint, a request.
    feats |= {f"<{c}>" for c in "!?" if c in text}
    return frozenset(feats)


def language_of(text: str, default: str) -> str:
    """"ru" when the text is written in Cyrillic, else `default` (examples of a pooled set)."""
    letters = [c for c in text.lower() if c.isalpha()]
    cyr = sum("а" <= c <= "я" or c == "ё" for c in letters)
    return "ru" if letters and cyr * 2 >= len(letters) else ("en" if letters else default)


class Vocabulary:
    """Lexical features seen in the training sentences, each given a column."""

    def __init__(self, bags: list[frozenset[str]]):
        self.index: dict[str, int] = {}
        for bag in bags:
            for f in sorted(bag):
                self.index.setdefault(f, len(self.index))

    def matrix(self, bags: list[frozenset[str]]) -> np.ndarray:
        """Rows of normalised binary bags; features never seen in training are left out
        (a linear judge would give them weight zero anyway)."""
        m = np.zeros((len(bags), max(1, len(self.index))), np.float32)
        for i, bag in enumerate(bags):
            cols = [self.index[f] for f in bag if f in self.index]
            if cols:
                m[i, cols] = 1.0 / np.sqrt(len(bag))
        return m

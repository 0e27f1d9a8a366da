"""Normal forms of words, and who a verb's action belongs to.

Russian words get their dictionary form from pymorphy3 (OpenCorpora dictionaries in the
pymorphy3-dicts-ru wheel, offline), so «подождите», «подождать», «подожду» all become «подождать»
and meet in a phrase match. English keeps the Snowball stem: English inflection is thin, and the
stem already joins "waiting"/"waited"/"wait".

A lemma throws away what some rules live on: «перезвоните позже» (imperative: a brush-off) and
«я перезвоню позже» (first person: a commitment) share the lemma «перезвонить». So each word
also carries its *actors*: "speaker" for a first-person verb, "listener" for an imperative or a
second-person verb, "other" for a third-person one. A matcher can then refuse to equate two
sentences whose shared verb is done by different people.

Everything is cached: it runs on every word of every call.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from callaudit.text.matching import normalise, stems

SPEAKER, LISTENER, OTHER = "speaker", "listener", "other"

# English has no verb endings to read person from; the pronoun before the verb says it.
_EN_SPEAKER = {"i", "i'll", "i'm", "i've", "i'd", "we", "we'll", "we're", "we've", "we'd", "let", "lets", "let's"}
_EN_LISTENER = {"you", "you'll", "you're", "you've", "you'd", "please", "just", "try", "go"}
# Snowball stems of the verbs whose doer changes what is meant ("I'll call back" / "call back").
_EN_VERBS = {"call", "ring", "phone", "contact", "tri", "check", "send", "wait", "hold", "come", "get"}


@dataclass(frozen=True)
class WordForm:
    """One word: as said (normalised), its lemma (stem for English), part of speech, actors."""

    word: str
    lemma: str
    pos: str                    # pymorphy3's tag (VERB, NOUN, INFN, ...); "" where unknown
    actors: frozenset[str]      # who does the action, for finite verbs; empty otherwise


@lru_cache(maxsize=1)
def _morph():
    import pymorphy3  # imported here: loading the dictionaries takes 0.2 s, only when Russian is read

    return pymorphy3.MorphAnalyzer(lang="ru")


@lru_cache(maxsize=200_000)
def ru_form(word: str) -> WordForm:
    """The Russian analysis of one normalised word (lower case, ё→е)."""
    parses = _morph().parse(word)
    best = parses[0]
    actors: set[str] = set()
    # «перезвоните» is both imperative and 2nd person future; «извините» likewise. Every
    # reading of a finite verb counts, so an ambiguous form keeps all of them.
    for p in parses:
        if p.tag.POS != "VERB" or p.normal_form != best.normal_form:
            continue
        if p.tag.mood == "impr":
            actors.add(SPEAKER if p.tag.involvement == "incl" else LISTENER)
        elif p.tag.person == "1per":
            actors.add(SPEAKER)
        elif p.tag.person == "2per":
            actors.add(LISTENER)
        elif p.tag.person == "3per" or p.tag.tense == "past":
            actors.add(OTHER)
    return WordForm(word, best.normal_form.replace("ё", "е"), str(best.tag.POS or ""), frozenset(actors))


def forms(text: str, lang: str) -> list[WordForm]:
    """The words of `text` with their lemmas and verb actors (English: stems, actors from pronouns)."""
    words = normalise(text).split()
    if lang == "ru":
        return [ru_form(w) for w in words]
    out = []
    for i, (w, s) in enumerate(zip(words, stems(" ".join(words), "en"))):
        actors: frozenset[str] = frozenset()
        if s in _EN_VERBS:
            before = words[max(0, i - 3):i]
            if any(b in _EN_SPEAKER for b in before):
                actors = frozenset({SPEAKER})
            elif any(b in _EN_LISTENER for b in before) or i == 0:
                actors = frozenset({LISTENER})  # "call back later": a bare verb first is an order
        out.append(WordForm(w, s, "", actors))
    return out


def lemmas(text: str, lang: str) -> list[str]:
    """The lemmas of `text`'s words: Russian dictionary forms, English Snowball stems."""
    return [f.lemma for f in forms(text, lang)]


def lemma(word: str, lang: str) -> str:
    """The lemma of one word (normalised first)."""
    found = lemmas(word, lang)
    return found[0] if found else ""


def actors_by_lemma(text: str, lang: str) -> dict[str, frozenset[str]]:
    """Each verb lemma of `text` with who does it («перезвоните» → {"перезвонить": {"listener"}})."""
    out: dict[str, frozenset[str]] = {}
    for f in forms(text, lang):
        if f.actors:
            out[f.lemma] = out.get(f.lemma, frozenset()) | f.actors
    return out


def actor_clash(a: dict[str, frozenset[str]], b: dict[str, frozenset[str]]) -> str | None:
    """The first verb lemma both sentences use with no actor in common, or None.

    «я перезвоню» vs «перезвоните»: "перезвонить" (speaker vs listener) → not the same thing said.
    """
    for lem, who in a.items():
        if lem in b and not (who & b[lem]):
            return lem
    return None


# English shows tense in auxiliaries and endings; these say "a promise" or "already happened".
_EN_FUTURE = {"will", "i'll", "we'll", "you'll", "he'll", "she'll", "they'll", "it'll", "shall", "gonna", "won't"}
_EN_PAST = {"was", "were", "did", "didn't", "came", "went", "had", "got", "visited", "called", "phoned", "saw",
            "yesterday", "ago"}
_EN_NOT_PAST = {"need", "speed", "indeed", "seed", "feed", "bed", "red", "shed", "proceed", "exceed", "succeed"}


@lru_cache(maxsize=200_000)
def _ru_tense(word: str) -> str | None:
    p = _morph().parse(word)[0]
    if p.tag.POS != "VERB":
        return None
    if p.tag.mood == "impr":
        return "imperative"
    return {"past": "past", "pres": "present", "futr": "future"}.get(p.tag.tense)


def tenses(text: str, lang: str) -> frozenset[str]:
    """The tenses of the finite verbs of `text`: past, present, future, imperative («мастер был у вас» →
    past; «мастер придёт» → future). English is read from auxiliaries and endings ("will", "was", -ed):
    "future" and "past" only, and nothing where neither shows."""
    words = normalise(text).split()
    if lang == "ru":
        return frozenset(t for w in words if (t := _ru_tense(w)))
    out = set()
    for i, w in enumerate(words):
        if w in _EN_FUTURE or (w == "going" and i + 1 < len(words) and words[i + 1] == "to"):
            out.add("future")
        elif w in _EN_PAST or (len(w) > 4 and w.endswith("ed") and w not in _EN_NOT_PAST
                               and not (i and words[i - 1] in ("been", "be", "is", "are", "get", "gets"))):
            out.add("past")
    return frozenset(out)

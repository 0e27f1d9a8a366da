"""A rule's verdict on one call and its evidence, and the helpers every rule kind judges with.

A rule that cannot be judged (roles unknown on a mono call, nothing to respond to) reports
"not evaluated" (passed=None) and never a fail: a wrong fail can cost a person their job. So does a
fail that rests on words Whisper heard unclearly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable

from rapidfuzz import fuzz

from callaudit.text.matching import Hit, Phrases, compile_phrases, find, normalise
from callaudit.transcript.records import Turn, Word

if TYPE_CHECKING:  # the rule kinds judge with these helpers, and rulepack loads the kinds
    from callaudit.analysis.rulepack import Rule
    from callaudit.analysis.timeline import Timeline

# Whisper's probability for a word; below this the word was heard too unclearly to fail anyone on.
UNCLEAR = 0.4
# Seconds of a party's detected speech inside their turns with no word written for it: Whisper
# dropped what was said there, and a fail resting on what was *not* said cannot be given.
UNHEARD = 1.0
WORD_SLACK = 0.3  # Whisper's word times run up to this much off the speech activity
# Letters in common (rapidfuzz ratio) from which a word may be the company's name misheard: the
# name's absence is then not sure enough to fail a greeting on.
NEAR_NAME = 66.0


@dataclass(frozen=True)
class Finding:
    rule: str
    title: str
    severity: str
    passed: bool | None  # None: not evaluated
    at: float | None
    detail: str
    evidence: tuple[dict, ...] = field(default=())

    @property
    def status(self) -> str:
        return {True: "passed", False: "failed", None: "not evaluated"}[self.passed]

    def not_evaluated(self, why: str) -> "Finding":
        """This finding withdrawn: `why` it cannot be given, with what was heard kept as evidence."""
        return Finding(self.rule, self.title, self.severity, None, self.at,
                       f"not evaluated: {why} (heard: {self.detail})", self.evidence)


@dataclass(frozen=True)
class Company:
    """The configured company name, which a greeting may be required to say."""

    name: str
    phrases: Phrases

    @classmethod
    def named(cls, name: str, language: str) -> "Company":
        name = name.strip()
        return cls(name, compile_phrases([name], language) if name else Phrases(()))

    def near(self, turns: Iterable[Turn]) -> tuple[Turn, str, float] | None:
        """The words of `turns` that come closest to the name without matching it (Whisper writes
        rare names wrong: "Acne" for "Acme"), with their similarity, when it is at least NEAR_NAME."""
        want = normalise(self.name)
        n = len(want.split())
        top = None
        for t in turns:
            words = normalise(t.text).split()
            for i in range(max(1, len(words) - n + 1)):
                got = " ".join(words[i:i + n])
                r = fuzz.ratio(want, got)
                if r >= NEAR_NAME and (top is None or r > top[2]):
                    top = (t, got, r)
        return top


def quote(turn: Turn, first: int | None = None, last: int | None = None) -> dict:
    """Evidence: the words said, by whom, and when (the matched words' times when known)."""
    if first is None or not turn.words:
        return {"speaker": turn.speaker, "quote": turn.text, "start": turn.start, "end": turn.end}
    ws = turn.words[first:last + 1]
    return {"speaker": turn.speaker, "quote": " ".join(w.text for w in ws),
            "start": round(max(turn.start, ws[0].start), 3), "end": round(min(turn.end, ws[-1].end), 3)}


def span(start: float, end: float, what: str) -> dict:
    """Evidence that is a stretch of the call rather than words (a silence, a wait)."""
    return {"speaker": None, "quote": what, "start": round(start, 3), "end": round(end, 3)}


def result(rule: "Rule", passed: bool | None, at: float | None, detail: str,
           evidence: Iterable[dict] = ()) -> Finding:
    return Finding(rule.id, rule.title, rule.severity, passed, None if at is None else round(at, 3),
                   detail, tuple(evidence))


def fail_on_words(rule: "Rule", at: float | None, detail: str, evidence, words: Iterable[Word]) -> Finding:
    """A fail that rests on what was or was not said is given only when Whisper heard those words
    clearly: a misheard apology must not become a failed conflict-handling rule."""
    weak = min(words, key=lambda w: w.probability, default=None)
    if weak is not None and weak.probability < UNCLEAR:
        return result(rule, None, at, f"not evaluated: the words this verdict rests on were heard "
                                      f"unclearly («{weak.text}» at {weak.start:.1f} s, confidence "
                                      f"{weak.probability:.2f}); a person should listen (heard: {detail})",
                      evidence)
    return result(rule, False, at, detail, evidence)


def unheard(turns: Iterable[Turn], tl: "Timeline") -> tuple[str, float, float] | None:
    """(speaker, start, end) of the longest stretch of speech in `turns` that no word covers, when it
    lasts at least UNHEARD seconds: the speech activity says someone spoke, Whisper wrote nothing."""
    worst = None
    for t in turns:
        spans = [(max(a, t.start), min(b, t.end)) for a, b in tl.transcript.activity.get(t.speaker, ())
                 if a < t.end and b > t.start]
        covered = sorted((w.start - WORD_SLACK, w.end + WORD_SLACK) for w in t.words)
        for a, b in spans:
            cur = a
            for c0, c1 in covered:
                if c1 <= cur or c0 >= b:
                    continue
                if c0 > cur and (worst is None or c0 - cur > worst[2] - worst[1]):
                    worst = (t.speaker, cur, c0)
                cur = max(cur, c1)
            if b > cur and (worst is None or b - cur > worst[2] - worst[1]):
                worst = (t.speaker, cur, b)
    return worst if worst and worst[2] - worst[1] >= UNHEARD else None


def fail_on_absence(rule: "Rule", at: float | None, detail: str, evidence, turns: list[Turn],
                    tl: "Timeline", also: Iterable[Word] = ()) -> Finding:
    """A fail that rests on what was *not* said in `turns`: given only when every word of them (and
    `also`, the words that called for it) was heard clearly and no stretch of their speech went
    without words (fail_on_words, unheard)."""
    gap = unheard(turns, tl)
    if gap:
        who, a, b = gap
        return result(rule, None, at, f"not evaluated: the {who} spoke from {a:.1f} to {b:.1f} s and no words "
                                      f"were written for it; what this verdict looks for may be there, and a "
                                      f"person should listen (heard: {detail})",
                      [*evidence, span(a, b, f"{b - a:.1f} s of the {who}'s speech without words")])
    return fail_on_words(rule, at, detail, evidence, [*also, *(w for t in turns for w in t.words)])


def hit(phrases: Phrases, turn: Turn, tl: "Timeline", rule: "Rule") -> Hit | None:
    """The best match of `phrases` in `turn`, on its stems or (unstemmed phrases) its plain words."""
    return find(phrases, tl.tokens(turn, phrases.stemmed), rule.fuzzy)

"""phrase-forbidden: the speaker never says one of the phrases (brush-offs, rudeness) or matches one of
the patterns. Plain words, not stems, where inflection carries the meaning («перезвоните позже» is
rude, «я перезвоню позже» is a commitment): `stem = false`."""

from __future__ import annotations

import re

from callaudit.analysis.findings import Company, Finding, fail_on_words, hit, quote, result
from callaudit.analysis.kinds.base import PHRASES, Kind, Problems, check_phrases, check_speakers
from callaudit.text.matching import compile_phrases, normalise


def check(p: dict) -> Problems:
    problems = check_speakers(p, "speaker") + check_phrases(p, "phrases")
    for x in p.get("patterns", []):
        try:
            re.compile(x)
        except (re.error, TypeError) as e:
            problems.append(("patterns", f"bad regular expression {x!r}: {e}"))
    if not p.get("phrases") and not p.get("patterns"):
        problems.append(("phrases", "a phrase-forbidden rule needs phrases or patterns"))
    return problems


def compile(p: dict, language: str) -> dict:
    return {"phrases": compile_phrases([x for x in p["phrases"] if isinstance(x, str)], language, p["stem"]),
            "patterns": tuple(re.compile(x) for x in p["patterns"])}


def judge(rule, tl, company: Company) -> Finding:
    p = rule.params
    found = []
    for t in tl.turns:
        if t.speaker != p["speaker"]:
            continue
        h = hit(rule.compiled["phrases"], t, tl, rule)
        if h:
            found.append((t, quote(t, h.first, h.last), h.phrase, t.words[h.first:h.last + 1]))
            continue
        text = normalise(t.text)
        for pat in rule.compiled["patterns"]:
            if pat.search(text):
                found.append((t, quote(t), pat.pattern, t.words))
                break
    if found:
        return fail_on_words(rule, found[0][0].start,
                             "; ".join(f"«{q['quote']}» at {q['start']:.1f} s (matches «{ph}»)" for _, q, ph, _ in found),
                             [q for _, q, _, _ in found], [w for *_, ws in found for w in ws])
    return result(rule, True, None, "no forbidden phrase")


def mono_doubt(finding: Finding, contested) -> str | None:
    if any(q["start"] - 1.5 <= t <= q["end"] + 1.5 for q in finding.evidence for t in contested):
        return "the words were heard where both talked at once and may be the other party's"
    return None


def live(rule) -> dict:
    from callaudit.transcript.live import Forbidden

    return {"forbidden": Forbidden(rule.id, rule.compiled["phrases"], rule.fuzzy)}


KIND = Kind("phrase-forbidden",
            {"speaker": (str, "agent"), "phrases": (PHRASES, []), "patterns": (PHRASES, []), "stem": (bool, True)},
            judge, check, compile, mono_doubt=mono_doubt, live=live)

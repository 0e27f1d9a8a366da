"""phrase-required: the speaker says one of the phrases (at the start, at the end, or anywhere),
e.g. a greeting in the agent's first turns, a closing in the last ones; optionally naming the company."""

from __future__ import annotations

from callaudit.analysis.findings import Company, Finding, fail_on_words, hit, quote, result
from callaudit.analysis.kinds.base import PHRASES, REQUIRED, Kind, Problems, check_phrases, check_speakers
from callaudit.text.matching import compile_phrases


def check(p: dict) -> Problems:
    problems = check_speakers(p, "speaker") + check_phrases(p, "phrases")
    if p.get("position", "any") not in ("start", "end", "any"):
        problems.append(("position", "position must be start, end or any"))
    return problems


def compile(p: dict, language: str) -> dict:
    return {"phrases": compile_phrases([x for x in p["phrases"] if isinstance(x, str)], language)}


def speaker_window(rule, tl) -> tuple[list, Finding | None]:
    """The speaker's turns the rule looks at (the first or last `turns`, or all), or the finding that
    decides it before any words are weighed: the speaker never spoke, or first spoke too late.
    Shared with intent-required, which judges the same window by meaning."""
    p = rule.params
    mine = [t for t in tl.turns if t.speaker == p["speaker"]]
    if not mine:
        return [], result(rule, False, 0.0, f"the {p['speaker']} never spoke")
    window = {"start": mine[:p["turns"]], "end": mine[-p["turns"]:], "any": mine}[p["position"]]
    first = mine[0]
    if p["position"] == "start" and p["max_start"] and first.start > p["max_start"]:
        return window, result(rule, False, first.start, f"the {p['speaker']} first spoke {first.start:.1f} s into "
                                                        f"the call (limit {p['max_start']:g} s)", [quote(first)])
    return window, None


def turns_looked_at(p: dict, window: list) -> str:
    """«first 2 », «last 2 » or «» for a finding's wording."""
    where = {"start": "first", "end": "last", "any": ""}[p["position"]]
    return f"{where} {len(window)} " if where else ""


def judge(rule, tl, company: Company) -> Finding:
    p = rule.params
    window, decided = speaker_window(rule, tl)
    if decided:
        return decided
    hits = [(t, h) for t in window if (h := hit(rule.compiled["phrases"], t, tl, rule))]
    if not hits:
        n = turns_looked_at(p, window)
        return fail_on_words(rule, window[0].start if p["position"] == "start" else window[-1].start,
                             f"none of the expected phrases in the {p['speaker']}'s {n}turns",
                             [quote(t) for t in window], [w for t in window for w in t.words])
    turn, h = hits[0]
    evidence = [quote(turn, h.first, h.last)]
    if p["require_company"] and company.name:
        named = [(t, c) for t in window if (c := hit(company.phrases, t, tl, rule))]
        if not named:
            return fail_on_words(rule, turn.start, f"the company name «{company.name}» was not said",
                                 evidence, [w for t in window for w in t.words])
        evidence.append(quote(named[0][0], named[0][1].first, named[0][1].last))
    return result(rule, True, turn.start, f"said «{h.phrase}»", evidence)


def mono_doubt(finding: Finding, contested) -> str | None:
    return "the expected words may have been said while both talked at once, which a mono mix loses"


KIND = Kind("phrase-required",
            {"speaker": (str, "agent"), "phrases": (PHRASES, REQUIRED), "position": (str, "any"),
             "turns": (int, 2), "max_start": (float, 0.0), "require_company": (bool, False)},
            judge, check, compile, mono_doubt=mono_doubt)

"""trigger-response: when the trigger speaker says a trigger phrase (or raises their voice), the
response speaker answers with every group of `response_all` (e.g. an apology AND a way forward)
within `within_turns` turns or `within_seconds` seconds."""

from __future__ import annotations

from callaudit.analysis.findings import Company, Finding, fail_on_words, hit, quote, result
from callaudit.analysis.kinds.base import PHRASES, REQUIRED, Kind, Problems, check_phrases, check_speakers
from callaudit.text.matching import compile_phrases


def check(p: dict) -> Problems:
    problems = check_speakers(p, "trigger_speaker", "response_speaker") + check_phrases(p, "trigger_phrases")
    groups = p.get("response_all")
    if groups is not None and (not groups or not all(isinstance(g, list) and g and all(isinstance(x, str) for x in g)
                                                     for g in groups)):
        problems.append(("response_all", "response_all must be a list of phrase lists, e.g. [[\"sorry\"], [\"I will\"]]"))
    if not p.get("trigger_phrases") and not p.get("raised_voice_db"):
        problems.append(("trigger_phrases", "a trigger-response rule needs trigger_phrases or raised_voice_db"))
    return problems


def compile(p: dict, language: str) -> dict:
    return {"trigger_phrases": compile_phrases([x for x in p["trigger_phrases"] if isinstance(x, str)], language),
            "response_all": tuple(compile_phrases(g, language) for g in p["response_all"])}


def judge(rule, tl, company: Company) -> Finding:
    p = rule.params
    triggers = []
    for i, t in enumerate(tl.turns):
        if t.speaker != p["trigger_speaker"]:
            continue
        h = hit(rule.compiled["trigger_phrases"], t, tl, rule)
        louder = tl.loudness_rel.get(i, 0.0) if p["trigger_speaker"] == "customer" else 0.0
        if h:
            triggers.append((t, quote(t, h.first, h.last), f"«{h.phrase}»"))
        elif p["raised_voice_db"] and louder >= p["raised_voice_db"]:
            triggers.append((t, quote(t), f"voice raised {louder:.1f} dB"))
    if not triggers:
        return result(rule, None, None, "not evaluated: nothing in the call called for it")
    missed, answered = [], []
    for t, q, why in triggers:
        after = [a for a in tl.turns if a.speaker == p["response_speaker"] and a.end > t.start + 0.3]
        window = [a for k, a in enumerate(after) if k < p["within_turns"] or a.start <= t.end + p["within_seconds"]]
        found = []
        for g in rule.compiled["response_all"]:
            h = next(((a, x) for a in window if (x := hit(g, a, tl, rule))), None)
            if h is None:
                break
            found.append(quote(h[0], h[1].first, h[1].last))
        if len(found) == len(rule.compiled["response_all"]):
            answered.append((t, q, found))
        else:
            missed.append((t, q, why, window))
    if missed:
        # The evidence shows what was said instead of the expected response.
        return fail_on_words(rule, missed[0][0].start,
                             "; ".join(f"{why} at {t.start:.1f} s got no proper response" for t, _, why, _ in missed),
                             [e for _, q, _, window in missed for e in [q, *map(quote, window)]],
                             [w for t, _, _, window in missed for turn in (t, *window) for w in turn.words])
    return result(rule, True, answered[0][0].start, f"{len(answered)} occasion(s), each answered",
                  [e for _, q, found in answered for e in [q, *found]])


def mono_doubt(finding: Finding, contested) -> str | None:
    return "the expected words may have been said while both talked at once, which a mono mix loses"


KIND = Kind("trigger-response",
            {"trigger_speaker": (str, "customer"), "trigger_phrases": (PHRASES, []), "raised_voice_db": (float, 0.0),
             "response_speaker": (str, "agent"), "response_all": (list, REQUIRED), "within_turns": (int, 2),
             "within_seconds": (float, 20.0)},
            judge, check, compile, mono_doubt=mono_doubt)

"""intent-required: the speaker says what the intent means — in any words — at the start, at the end
or anywhere: a greeting in the agent's first turns (naming the company when one is configured), a
closing in the last ones.

A sentence that matches the intent (or holds one of its exact phrases, unless the judge is clearly
against it) passes the rule. The rule fails only when every sentence it looked at scores clearly
below the intent's threshold (under its doubt band) and Whisper heard them clearly; a sentence in
the band between is "not evaluated", and the finding names it for a person to hear.
"""

from __future__ import annotations

from callaudit.analysis.findings import Company, Finding, fail_on_absence, hit, quote, result
from callaudit.analysis.kinds.base import REQUIRED, Kind, Problems, check_speakers
from callaudit.analysis.kinds.phrase_required import mono_doubt, speaker_window, turns_looked_at
from callaudit.analysis.meaning import best, describe
from callaudit.text.intents import MATCH, UNSURE


def check(p: dict) -> Problems:
    problems = check_speakers(p, "speaker")
    if p.get("position", "any") not in ("start", "end", "any"):
        problems.append(("position", "position must be start, end or any"))
    if not isinstance(p.get("intent"), str) or not p.get("intent"):
        problems.append(("intent", "intent must name an [intent.NAME] of the pack"))
    if p.get("turns", 2) < 1:
        problems.append(("turns", "turns must be at least 1"))
    return problems


def intents(p: dict) -> list[tuple[str, str, str]]:
    return [("intent", p["intent"], p["speaker"])]


def judge(rule, tl, company: Company) -> Finding:
    p = rule.params
    window, decided = speaker_window(rule, tl)
    if decided:
        return decided
    cm = tl.meaning
    if cm is None or cm.unavailable:
        return result(rule, None, None, f"not evaluated: {cm.unavailable if cm else 'the intents were not judged'}")
    found = best(cm, window, [p["intent"]])
    n = turns_looked_at(p, window)
    if found.status == MATCH:
        evidence = [cm.evidence(found.turn, found.match)]
        if p["require_company"] and company.name:
            named = [(t, c) for t in window if (c := hit(company.phrases, t, tl, rule))]
            if not named:
                near = company.near(window)
                if near:
                    t, heard, ratio = near
                    return result(rule, None, found.turn.start,
                                  f"not evaluated: the company name «{company.name}» was not heard for sure; "
                                  f"«{heard}» at {t.start:.1f} s comes close (similarity {ratio:.0f}): Whisper may "
                                  f"have misheard the name, and a person should listen", [*evidence, quote(t)])
                return fail_on_absence(rule, found.turn.start, f"the company name «{company.name}» was not said",
                                       evidence, window, tl)
            evidence.append(quote(named[0][0], named[0][1].first, named[0][1].last))
        return result(rule, True, found.turn.start, describe(found.match), evidence)
    if found.status == UNSURE:
        return result(rule, None, found.turn.start,
                      f"not evaluated: {describe(found.match)}; a person should listen to it",
                      [cm.evidence(found.turn, found.match)])
    closest = f" (closest: {describe(found.match)})" if found.match else ""
    evidence = [quote(t) for t in window] + ([cm.evidence(found.turn, found.match)] if found.match else [])
    return fail_on_absence(rule, window[0].start if p["position"] == "start" else window[-1].start,
                           f"no {p['intent'].replace('_', ' ')} in the {p['speaker']}'s {n}turns{closest}",
                           evidence, window, tl)


KIND = Kind("intent-required",
            {"speaker": (str, "agent"), "intent": (str, REQUIRED), "position": (str, "any"),
             "turns": (int, 2), "max_start": (float, 0.0), "require_company": (bool, False)},
            judge, check, mono_doubt=mono_doubt, intents=intents)

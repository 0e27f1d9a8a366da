"""intent-response: when the trigger speaker means a trigger intent (a complaint, a request) — or
raises their voice — the response speaker answers with every group of `response_all` (an apology
AND a way forward or a commitment), in any words, within `within_turns` turns or
`within_seconds` seconds.

- A trigger is sure when a sentence matches a trigger intent (or holds one of its phrases, unless
  the judge is clearly against it) or the voice is raised; a sentence in the doubt band is a
  possible trigger: answered, it counts as handled; unanswered, it is "not evaluated", never a fail.
- A response group is found, missing (every sentence of the window clearly below each of its
  intents) or in doubt. Only a missing group after a sure trigger fails the rule, and only when
  Whisper heard those words clearly and wrote words for all of the window's speech; a group in
  doubt makes the finding "not evaluated".
- `deadline_intent` (e.g. "commitment"): a sentence that names a deadline («до вечера», "by
  Friday": analysis.deadlines) is at least a doubt for that intent — what and by when is what a
  commitment is, and the judge alone cannot call such a sentence clearly no commitment.
- `deadline_required`: the response must also say by when — a deadline (analysis.deadlines) or one
  of `deadline_phrases` («сейчас», "right away") somewhere in the window. A sure trigger answered
  by a commitment the judge is sure of, with no deadline, fails (when Whisper heard the window
  clearly); a commitment only in doubt, or found by phrases alone, makes it "not evaluated".
- A trigger that follows another within `within_seconds` is the same occasion (a customer who
  complains twice in a row): what the agent said since the first one answers both.
- `response_phrases`: phrase groups (today's phrase lists, «извините» AND «проверю») that, each
  found somewhere in the window, also count as the response: a signal that can pass, never fail.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone

from callaudit.analysis.deadlines import find_deadlines
from callaudit.analysis.findings import Company, Finding, fail_on_absence, hit, quote, result
from callaudit.analysis.kinds.base import PHRASES, REQUIRED, Kind, Problems, check_phrases, check_speakers
from callaudit.analysis.meaning import Found, best, describe
from callaudit.text.intents import MATCH, NONE, UNSURE
from callaudit.text.matching import compile_phrases


def _names(value) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(n, str) and n for n in value)


def check(p: dict) -> Problems:
    problems = check_speakers(p, "trigger_speaker", "response_speaker") + check_phrases(p, "deadline_phrases")
    if "trigger_intents" in p and p["trigger_intents"] and not _names(p["trigger_intents"]):
        problems.append(("trigger_intents", "trigger_intents must be a list of [intent.NAME] names"))
    groups = p.get("response_all")
    if groups is not None and (not isinstance(groups, list) or not groups or not all(_names(g) for g in groups)):
        problems.append(("response_all", 'response_all must be a list of intent lists, e.g. [["apology"], '
                                         '["way_forward", "commitment"]]'))
    phrases = p.get("response_phrases")
    if phrases and not all(isinstance(g, list) and g and all(isinstance(x, str) and x.strip() for x in g)
                           for g in phrases):
        problems.append(("response_phrases", 'response_phrases must be a list of phrase lists, e.g. [["sorry"], '
                                             '["I will"]]'))
    if not p.get("trigger_intents") and not p.get("raised_voice_db"):
        problems.append(("trigger_intents", "an intent-response rule needs trigger_intents or raised_voice_db"))
    return problems


def compile(p: dict, language: str) -> dict:
    return {"response_phrases": tuple(compile_phrases(g, language) for g in p["response_phrases"]),
            "deadline_phrases": compile_phrases(p["deadline_phrases"], language)}


def _by_phrases(rule, tl, window) -> list[dict] | None:
    """Quotes of each response phrase group found in the window, or None unless all are."""
    groups = rule.compiled["response_phrases"]
    found = []
    for g in groups:
        h = next(((a, x) for a in window if (x := hit(g, a, tl, rule))), None)
        if h is None:
            return None
        found.append({**quote(h[0], h[1].first, h[1].last), "phrase": h[1].phrase})
    return found if groups else None


def intents(p: dict) -> list[tuple[str, str, str]]:
    return ([("trigger_intents", n, p["trigger_speaker"]) for n in p["trigger_intents"]]
            + [("response_all", n, p["response_speaker"]) for g in p["response_all"] for n in g]
            + ([("deadline_intent", p["deadline_intent"], p["response_speaker"])] if p["deadline_intent"] else []))


ANY_DAY = datetime(2026, 1, 5, 10, 0, tzinfo=timezone.utc)  # only whether a deadline is said matters here


def _with_deadline(cm, found: Found, window, group: list[str], name: str) -> Found:
    """A group clearly missing by the judge, in doubt after all when its intent `name` is one a
    sentence naming a deadline may express."""
    if found.status != NONE or name not in group:
        return found
    for t in window:
        for sm in cm.of(t):
            said = find_deadlines(sm.sentence.text, ANY_DAY)
            if said:
                m = dataclasses.replace(sm.judged[name], status=UNSURE, via=f"deadline «{said[0].quote}»")
                return Found(UNSURE, t, m)
    return found


def _deadline_said(rule, tl, window) -> bool:
    """Whether the window names a time the commitment is due by."""
    phrases = rule.compiled["deadline_phrases"]
    return any((phrases and hit(phrases, t, tl, rule)) or find_deadlines(t.text, ANY_DAY) for t in window)


def _triggers(rule, tl, cm) -> list[tuple]:
    """(turn, evidence, why, sure) for every turn that calls for a response."""
    p, out = rule.params, []
    for i, t in enumerate(tl.turns):
        if t.speaker != p["trigger_speaker"]:
            continue
        names = p["trigger_intents"]
        # A trigger can lead to a fail, so only the judge makes one sure; a trigger phrase the judge
        # does not confirm makes a possible one (answered: handled; unanswered: not evaluated).
        f = best(cm, [t], names, "judged") if names else Found(NONE, None, None)
        heard = best(cm, [t], names) if names and f.status != MATCH else f
        louder = tl.loudness_rel.get(i, 0.0) if p["trigger_speaker"] == "customer" else 0.0
        if f.status == MATCH:
            out.append((t, cm.evidence(t, f.match), describe(f.match), True))
        elif p["raised_voice_db"] and louder >= p["raised_voice_db"]:
            out.append((t, quote(t), f"voice raised {louder:.1f} dB", True))
        elif heard.status in (MATCH, UNSURE):
            out.append((t, cm.evidence(t, heard.match), describe(heard.match), False))
    return out


def judge(rule, tl, company: Company) -> Finding:
    p = rule.params
    cm = tl.meaning
    if cm is None or cm.unavailable:
        return result(rule, None, None, f"not evaluated: {cm.unavailable if cm else 'the intents were not judged'}")
    triggers = _triggers(rule, tl, cm)
    if not triggers:
        return result(rule, None, None, "not evaluated: nothing in the call called for it")
    answered, missed, doubted = [], [], []
    since, last_end = None, None
    for t, q, why, sure in triggers:
        if last_end is None or t.start > last_end + p["within_seconds"]:
            since = t.start  # a new occasion
        last_end = t.end
        mine = [a for a in tl.turns if a.speaker == p["response_speaker"]]
        before = [a for a in mine if a.end > since + 0.3 and a.end <= t.start + 0.3]
        after = [a for a in mine if a.end > t.start + 0.3]
        window = before + [a for k, a in enumerate(after) if k < p["within_turns"]
                           or a.start <= t.end + p["within_seconds"]]
        groups = [_with_deadline(cm, best(cm, window, g), window, g, p["deadline_intent"])
                  for g in p["response_all"]]
        all_heard = all(g.status == MATCH for g in groups)
        by_phrases = None if all_heard else _by_phrases(rule, tl, window)
        response = [cm.evidence(g.turn, g.match) for g in groups] if all_heard else by_phrases
        if response and p["deadline_required"] and not _deadline_said(rule, tl, window):
            # A commitment with no time is no commitment to the customer: they call again.
            said = " ".join(f"«{e['quote']}»" for e in response if e.get("quote"))
            if sure and all(best(cm, window, g, "judged").status == MATCH for g in p["response_all"]):
                missed.append((t, q, why, window, f"a commitment with no deadline ({said})"))
            else:
                doubted.append((t, q, why, sure, window, [], f"a commitment without a deadline ({said})"))
        elif response:
            answered.append((t, q, why, sure, response))
        elif sure and any(g.status == NONE for g in groups):
            lacking = [" or ".join(n.replace("_", " ") for n in grp) for grp, g in zip(p["response_all"], groups)
                       if g.status == NONE]
            missed.append((t, q, why, window, "no " + " and no ".join(lacking)))
        else:
            unsure = [g for g in groups if g.status != MATCH]
            heard = "; ".join(describe(g.match) for g in unsure if g.match) or "no response"
            doubted.append((t, q, why, sure, window, [cm.evidence(g.turn, g.match) for g in unsure if g.match],
                            f"it is not clear it got one ({heard})"))
    if missed:
        # The evidence shows what was said instead of the expected response.
        return fail_on_absence(rule, missed[0][0].start, "; ".join(
            f"{why} at {t.start:.1f} s got {got}" for t, _, why, _, got in missed),
            [e for _, q, _, window, _ in missed for e in [q, *map(quote, window)]],
            [turn for _, _, _, window, _ in missed for turn in window], tl,
            [w for t, *_ in missed for w in t.words])
    sure_doubts = [d for d in doubted if d[3]]
    if sure_doubts or (doubted and not any(a[3] for a in answered)):
        t, q, why, sure, window, heard, reason = (sure_doubts or doubted)[0]
        what = "" if sure else "possibly "
        return result(rule, None, t.start, f"not evaluated: {why} at {t.start:.1f} s {what}called for a response, "
                                           f"and {reason}; a person should listen", [q, *heard])
    sure_ones = [a for a in answered if a[3]]
    note = f"; {len(doubted)} possible occasion(s) not judged" if doubted else ""
    first = (sure_ones or answered)[0]
    return result(rule, True, first[0].start, f"{len(answered)} occasion(s), each answered{note}",
                  [e for _, q, _, _, found in answered for e in [q, *found]])


def mono_doubt(finding: Finding, contested) -> str | None:
    return "the expected words may have been said while both talked at once, which a mono mix loses"


KIND = Kind("intent-response",
            {"trigger_speaker": (str, "customer"), "trigger_intents": (list, []), "raised_voice_db": (float, 0.0),
             "response_speaker": (str, "agent"), "response_all": (list, REQUIRED), "within_turns": (int, 2),
             "within_seconds": (float, 20.0), "deadline_intent": (str, ""), "response_phrases": (list, []),
             "deadline_required": (bool, False), "deadline_phrases": (PHRASES, [])},
            judge, check, compile, mono_doubt=mono_doubt, intents=intents)

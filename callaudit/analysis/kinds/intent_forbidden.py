"""intent-forbidden: the speaker never means one of the intents (a brush-off, rudeness), in any words.

Precision first, because this rule's fail is the one most likely to cost someone their bonus:
- a sentence fails the rule only when the judge itself matches it to a forbidden intent (its
  score over the threshold and clear of every rival by the margin) and Whisper heard it clearly;
- an exact forbidden phrase (or a pattern) in a sentence the judge does not match is not enough
  to fail anyone («я перезвоню позже» is not «перезвоните позже»; "hello" is not rude): the
  finding is "not evaluated" and names the sentence for a person to hear;
- a sentence in the judge's doubt band, below the threshold, passes: nothing forbidden was
  found for sure, and the finding says which sentence came closest.
"""

from __future__ import annotations

import re

from callaudit.analysis.findings import UNCLEAR, Company, Finding, fail_on_words, result
from callaudit.analysis.kinds.base import PHRASES, REQUIRED, Kind, Problems, check_speakers
from callaudit.analysis.meaning import describe, judged_speaker
from callaudit.text.intents import MATCH, UNSURE
from callaudit.text.matching import normalise
from callaudit.transcript.records import Turn

# Hesitation sounds: no meaning of their own, so an unclear one cannot change what was meant.
FILLERS = frozenset({"um", "umm", "uh", "uhm", "er", "erm", "hm", "hmm", "mm", "ah", "eh",
                     "э", "ээ", "эм", "мм", "хм", "а-а", "эээ", "ммм"})


def check(p: dict) -> Problems:
    problems = check_speakers(p, "speaker")
    names = p.get("intents")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
        problems.append(("intents", "intents must be a list of [intent.NAME] names, e.g. [\"brush_off\", \"rudeness\"]"))
    for x in p.get("patterns", []):
        try:
            re.compile(x)
        except (re.error, TypeError) as e:
            problems.append(("patterns", f"bad regular expression {x!r}: {e}"))
    return problems


def compile(p: dict, language: str) -> dict:
    return {"patterns": tuple(re.compile(x) for x in p["patterns"])}


def intents(p: dict) -> list[tuple[str, str, str]]:
    return [("intents", n, p["speaker"]) for n in p["intents"]]


def judge(rule, tl, company: Company) -> Finding:
    p = rule.params
    cm = tl.meaning
    if cm is None or cm.unavailable:
        return result(rule, None, None, f"not evaluated: {cm.unavailable if cm else 'the intents were not judged'}")
    found, doubtful, closest = [], [], None
    for t in tl.turns:
        if t.speaker != p["speaker"]:
            continue
        for sm in cm.of(t):
            matched = [sm.judged[n] for n in p["intents"] if sm.judged[n].status == MATCH]
            if matched:
                m = max(matched, key=lambda m: m.score - m.threshold)
                found.append((t, m, t.words[m.first:m.last + 1]))
                continue
            said = next(((n, sm.phrase[n]) for n in p["intents"] if sm.phrase.get(n)), None)
            pattern = next((x.pattern for x in rule.compiled["patterns"] if x.search(normalise(sm.sentence.text))),
                           None)
            if said or pattern:
                doubtful.append((t, sm.judged[said[0] if said else p["intents"][0]], said[1] if said else pattern))
            for n in p["intents"]:
                m = sm.judged[n]
                if m.status == UNSURE and (closest is None or m.score - m.threshold > closest[1].score - closest[1].threshold):
                    closest = (t, m)
    # Each sentence a fail rests on must have been heard clearly — or still mean the forbidden
    # intent once its unclear words are left out (an unclear "umm" changes nothing); one that does
    # not is left for a person, and the others still count.
    found = [(t, m, ws if all(w.probability >= UNCLEAR for w in ws) else _clear_words(cm, t, m, ws))
             for t, m, ws in found]
    clear = [f for f in found if all(w.probability >= UNCLEAR for w in f[2])]
    if found and clear != found and clear:
        found = clear
    if found:
        return fail_on_words(rule, found[0][0].start, "; ".join(
            f"{describe(m)} at {t.start:.1f} s" for t, m, _ in found),
            [cm.evidence(t, m) for t, m, _ in found], [w for *_, ws in found for w in ws])
    if doubtful:
        t, m, phrase = doubtful[0]
        return result(rule, None, t.start,
                      f"not evaluated: «{m.sentence}» at {t.start:.1f} s holds the forbidden words «{phrase}» "
                      f"but reads otherwise ({describe(m)}); a person should listen to it",
                      [cm.evidence(t, m) for t, m, _ in doubtful])
    if closest:
        t, m = closest
        return result(rule, True, None, f"nothing forbidden for sure; closest: {describe(m)} at {t.start:.1f} s, "
                                        "below the threshold", [cm.evidence(t, m)])
    return result(rule, True, None, "nothing forbidden")


def _clear_words(cm, turn, m, words):
    """The sentence without its unclear hesitation sounds ("umm", «э-э»), when all else was heard
    clearly and still matches intent `m.intent` for sure; else all its words (the fail would rest
    on an unclear word, which might have been another: «я» for «вы» turns a brush-off into a
    promise — and it is not given)."""
    unclear = [w for w in words if w.probability < UNCLEAR]
    if any(normalise(w.text).strip("-") not in FILLERS for w in unclear):
        return words
    kept = [w for w in words if w.probability >= UNCLEAR]
    if not kept:
        return words
    again = Turn(turn.speaker, turn.start, turn.end, " ".join(w.text for w in kept), tuple(kept), turn.loudness_db)
    sms = cm.pm.sentences([again], judged_speaker(turn.speaker))[0]
    return tuple(kept) if any(sm.judged[m.intent].status == MATCH for sm in sms) else words


def mono_doubt(finding: Finding, contested) -> str | None:
    if any(q["start"] - 1.5 <= t <= q["end"] + 1.5 for q in finding.evidence for t in contested):
        return "the words were heard where both talked at once and may be the other party's"
    return None


def live(rule) -> dict:
    from callaudit.text.matching import Phrases
    from callaudit.transcript.live import Forbidden

    phrases = [ph for group in rule.compiled.get("intent_phrases", {}).values() for ph in group.items]
    stemmed = all(g.stemmed for g in rule.compiled.get("intent_phrases", {}).values())
    return {"forbidden": Forbidden(rule.id, Phrases(tuple(phrases), stemmed), rule.fuzzy)}


KIND = Kind("intent-forbidden",
            {"speaker": (str, "agent"), "intents": (list, REQUIRED), "patterns": (PHRASES, [])},
            judge, check, compile, mono_doubt=mono_doubt, live=live, intents=intents)

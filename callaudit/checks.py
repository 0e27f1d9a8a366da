"""Judging a call: each rule kind reads the timeline and returns one Finding with its evidence.

A rule that cannot be judged (roles unknown on a mono call, nothing to respond to) reports
"not evaluated" (passed=None) and never a fail: a wrong fail can cost a person their job.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .matching import Phrases, compile_phrases, find, normalise
from .rulepack import Rule, RulePack
from .timeline import Timeline
from .transcribe import Turn


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


def quote(turn: Turn, first: int | None = None, last: int | None = None) -> dict:
    """Evidence: the words said, by whom, and when (the matched words' times when known)."""
    if first is None or not turn.words:
        return {"speaker": turn.speaker, "quote": turn.text, "start": turn.start, "end": turn.end}
    ws = turn.words[first:last + 1]
    return {"speaker": turn.speaker, "quote": " ".join(w.text for w in ws),
            "start": round(max(turn.start, ws[0].start), 3), "end": round(min(turn.end, ws[-1].end), 3)}


# Whisper's probability for a word; below this the word was heard too unclearly to fail anyone on.
UNCLEAR = 0.4


def span(start: float, end: float, what: str) -> dict:
    return {"speaker": None, "quote": what, "start": round(start, 3), "end": round(end, 3)}


class Judge:
    """Applies one pack's rules to timelines."""

    def __init__(self, pack: RulePack, company: str = ""):
        self.pack = pack
        self.company = company.strip()
        self.company_phrase = compile_phrases([self.company], pack.language) if self.company else ()

    def judge(self, tl: Timeline) -> list[Finding]:
        return [self.check(rule, tl) for rule in self.pack.rules]

    def check(self, rule: Rule, tl: Timeline) -> Finding:
        role_bound = rule.kind != "max-silence"
        tx = tl.transcript
        if role_bound and not tl.roles_known:
            if tx.roles == "uncertain":
                return self._result(rule, None, None, "not evaluated: roles uncertain on this mono recording "
                                                      f"(agent/customer confidence {tx.role_confidence or 0:.2f})")
            return self._result(rule, None, None, "not evaluated: agent and customer are not separated "
                                                  "on this mono recording")
        if rule.kind == "overlap-count" and tx.overlap_reliability == "unmeasured":
            return self._result(rule, None, None, "not evaluated: on this mono recording a speaker took over "
                                                  "without a pause, and how long both talked at once cannot be "
                                                  "measured from the mix")
        finding = getattr(self, "_" + rule.kind.replace("-", "_"))(rule, tl)
        if finding.passed is False and tx.overlap_reliability == "unmeasured":
            return self._overlap_guard(rule, finding, tx.diarization.get("contested", ()))
        return finding

    def _overlap_guard(self, rule: Rule, finding: Finding, contested) -> Finding:
        """On a mono mix, where one party took over without a pause both may have talked at once, and
        there the mix loses words and may give them to the wrong voice: a fail that could rest on
        that is not given."""
        if rule.kind in ("phrase-required", "trigger-response"):
            why = "the expected words may have been said while both talked at once, which a mono mix loses"
        elif rule.kind in ("max-silence", "max-gap") and finding.at is not None and any(
                finding.at - 10.0 <= t <= finding.at + 0.5 for t in contested):
            why = "just before it both talked at once, where a mono mix may have lost the words announcing a hold"
        elif rule.kind == "phrase-forbidden" and any(
                q["start"] - 1.5 <= t <= q["end"] + 1.5 for q in finding.evidence for t in contested):
            why = "the words were heard where both talked at once and may be the other party's"
        else:
            return finding
        return Finding(finding.rule, finding.title, finding.severity, None, finding.at,
                       f"not evaluated: {why} (heard: {finding.detail})", finding.evidence)

    def _result(self, rule: Rule, passed: bool | None, at: float | None, detail: str,
                evidence: list[dict] | tuple = ()) -> Finding:
        return Finding(rule.id, rule.title, rule.severity, passed, None if at is None else round(at, 3),
                       detail, tuple(evidence))

    def _fail_on_words(self, rule: Rule, at: float | None, detail: str, evidence, words) -> Finding:
        """A fail that rests on what was or was not said is given only when Whisper heard those words
        clearly: a misheard apology must not become a failed conflict-handling rule."""
        weak = min(words, key=lambda w: w.probability, default=None)
        if weak is not None and weak.probability < UNCLEAR:
            return self._result(rule, None, at, f"not evaluated: the words this verdict rests on were heard "
                                                f"unclearly («{weak.text}» at {weak.start:.1f} s, confidence "
                                                f"{weak.probability:.2f}); a person should listen (heard: {detail})",
                                evidence)
        return self._result(rule, False, at, detail, evidence)

    def _hit(self, phrases: Phrases, turn: Turn, tl: Timeline, rule: Rule):
        return find(phrases, tl.tokens(turn, phrases.stemmed), rule.fuzzy)

    # ------------------------------------------------------------------ kinds
    def _phrase_required(self, rule: Rule, tl: Timeline) -> Finding:
        p = rule.params
        mine = [t for t in tl.turns if t.speaker == p["speaker"]]
        if not mine:
            return self._result(rule, False, 0.0, f"the {p['speaker']} never spoke")
        window = {"start": mine[:p["turns"]], "end": mine[-p["turns"]:], "any": mine}[p["position"]]
        first = mine[0]
        if p["position"] == "start" and p["max_start"] and first.start > p["max_start"]:
            return self._result(rule, False, first.start,
                                f"the {p['speaker']} first spoke {first.start:.1f} s into the call "
                                f"(limit {p['max_start']:g} s)", [quote(first)])
        hits = [(t, h) for t in window if (h := self._hit(rule.compiled["phrases"], t, tl, rule))]
        if not hits:
            where = {"start": "first", "end": "last", "any": ""}[p["position"]]
            n = f"{where} {len(window)} " if where else ""
            return self._fail_on_words(rule, window[0].start if p["position"] == "start" else window[-1].start,
                                       f"none of the expected phrases in the {p['speaker']}'s {n}turns",
                                       [quote(t) for t in window], [w for t in window for w in t.words])
        turn, hit = hits[0]
        evidence = [quote(turn, hit.first, hit.last)]
        if p["require_company"] and self.company:
            named = [(t, h) for t in window if (h := self._hit(self.company_phrase, t, tl, rule))]
            if not named:
                return self._fail_on_words(rule, turn.start, f"the company name «{self.company}» was not said",
                                           evidence, [w for t in window for w in t.words])
            evidence.append(quote(named[0][0], named[0][1].first, named[0][1].last))
        return self._result(rule, True, turn.start, f"said «{hit.phrase}»", evidence)

    def _phrase_forbidden(self, rule: Rule, tl: Timeline) -> Finding:
        p = rule.params
        found = []
        for t in tl.turns:
            if t.speaker != p["speaker"]:
                continue
            hit = self._hit(rule.compiled["phrases"], t, tl, rule)
            if hit:
                found.append((t, quote(t, hit.first, hit.last), hit.phrase, t.words[hit.first:hit.last + 1]))
                continue
            text = normalise(t.text)
            for pat in rule.compiled["patterns"]:
                if pat.search(text):
                    found.append((t, quote(t), pat.pattern, t.words))
                    break
        if found:
            return self._fail_on_words(rule, found[0][0].start,
                                       "; ".join(f"«{q['quote']}» at {q['start']:.1f} s (matches «{ph}»)"
                                                 for _, q, ph, _ in found), [q for _, q, _, _ in found],
                                       [w for *_, ws in found for w in ws])
        return self._result(rule, True, None, "no forbidden phrase")

    def _max_gap(self, rule: Rule, tl: Timeline) -> Finding:
        limit = rule.params["max_seconds"]
        counted = [g for g in tl.gaps if not g.on_hold]
        slow = [g for g in counted if g.seconds > limit]
        if slow:
            worst = max(slow, key=lambda g: g.seconds)
            return self._result(rule, False, worst.start,
                                f"{len(slow)} answer(s) slower than {limit:g} s; slowest {worst.seconds:.1f} s",
                                [evidence for g in slow for evidence in
                                 (quote(g.after), span(g.start, g.end, f"{g.seconds:.1f} s without an answer"),
                                  quote(g.answer))])
        if not counted:
            return self._result(rule, None, None, "not evaluated: the customer never waited for an answer")
        worst = max(counted, key=lambda g: g.seconds)
        return self._result(rule, True, worst.start, f"slowest answer {worst.seconds:.1f} s "
                                                     f"(limit {limit:g} s, {len(counted)} answers)")

    def _max_silence(self, rule: Rule, tl: Timeline) -> Finding:
        p = rule.params
        bad = [s for s in tl.silences
               if s.seconds > (p["hold_max_seconds"] if s.on_hold else p["max_seconds"])]
        if bad:
            return self._result(rule, False, bad[0].start, "; ".join(
                f"{s.seconds:.1f} s of silence at {s.start:.1f} s"
                + (f" (announced hold, limit {p['hold_max_seconds']:g} s)" if s.on_hold
                   else f" (not announced as a hold, limit {p['max_seconds']:g} s)") for s in bad),
                [span(s.start, s.end, f"{s.seconds:.1f} s of silence") for s in bad])
        longest = max(tl.silences, key=lambda s: s.seconds, default=None)
        return self._result(rule, True, longest.start if longest else None,
                            f"longest silence {longest.seconds:.1f} s"
                            + (" (an announced hold)" if longest.on_hold else "") if longest else "no silence")

    def _overlap_count(self, rule: Rule, tl: Timeline) -> Finding:
        p = rule.params
        cuts = [o for o in tl.overlaps if o.by == p["speaker"] and o.seconds > p["min_seconds"]]
        evidence = [e for o in cuts for e in (quote(o.over), quote(o.turn))]
        if len(cuts) > p["max_count"]:
            return self._result(rule, False, cuts[0].start,
                                f"{len(cuts)} interruptions longer than {p['min_seconds']:g} s "
                                f"(at most {p['max_count']} allowed): "
                                + ", ".join(f"{o.start:.1f} s ({o.seconds:.1f} s)" for o in cuts), evidence)
        return self._result(rule, True, cuts[0].start if cuts else None,
                            f"{len(cuts)} interruption(s) longer than {p['min_seconds']:g} s", evidence)

    def _trigger_response(self, rule: Rule, tl: Timeline) -> Finding:
        p = rule.params
        triggers = []
        for i, t in enumerate(tl.turns):
            if t.speaker != p["trigger_speaker"]:
                continue
            hit = self._hit(rule.compiled["trigger_phrases"], t, tl, rule)
            louder = tl.loudness_rel.get(i, 0.0) if p["trigger_speaker"] == "customer" else 0.0
            if hit:
                triggers.append((t, quote(t, hit.first, hit.last), f"«{hit.phrase}»"))
            elif p["raised_voice_db"] and louder >= p["raised_voice_db"]:
                triggers.append((t, quote(t), f"voice raised {louder:.1f} dB"))
        if not triggers:
            return self._result(rule, None, None, "not evaluated: nothing in the call called for it")
        groups = rule.compiled["response_all"]
        missed, answered = [], []
        for t, q, why in triggers:
            after = [a for a in tl.turns if a.speaker == p["response_speaker"] and a.end > t.start + 0.3]
            window = [a for k, a in enumerate(after)
                      if k < p["within_turns"] or a.start <= t.end + p["within_seconds"]]
            found = []
            for g in groups:
                hit = next(((a, h) for a in window if (h := self._hit(g, a, tl, rule))), None)
                if hit is None:
                    break
                found.append(quote(hit[0], hit[1].first, hit[1].last))
            if len(found) == len(groups):
                answered.append((t, q, found))
            else:
                missed.append((t, q, why, window))
        if missed:
            # The evidence shows what was said instead of the expected response.
            return self._fail_on_words(rule, missed[0][0].start,
                                       "; ".join(f"{why} at {t.start:.1f} s got no proper response"
                                                 for t, _, why, _ in missed),
                                       [e for _, q, _, window in missed for e in [q, *map(quote, window)]],
                                       [w for t, _, _, window in missed for turn in (t, *window) for w in turn.words])
        return self._result(rule, True, answered[0][0].start,
                            f"{len(answered)} occasion(s), each answered",
                            [e for _, q, found in answered for e in [q, *found]])

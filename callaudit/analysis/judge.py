"""Judging a call: each rule, by its kind (analysis/kinds), reads the timeline and returns one Finding.

What every kind shares lives here: a rule that needs to know who is the agent is not evaluated on a
mono call whose roles are uncertain, and on a mono mix a fail that could rest on what was lost where
both parties talked at once is withdrawn — a wrong fail can cost a person their job. Where the voices
of a mix were not told apart (one voice heard, two too alike, or separation switched off), nothing
says where they overlapped: a second voice may have covered the words anywhere, so every stretch of
speech counts as a place where both may have talked at once.
"""

from __future__ import annotations

import dataclasses

from callaudit.analysis.findings import Company, Finding, result
from callaudit.analysis.kinds import KINDS
from callaudit.analysis.meaning import PackMeaning, meaning_for
from callaudit.analysis.rulepack import Rule, RulePack
from callaudit.analysis.timeline import Timeline
from callaudit.transcript.records import Transcript

EVERY = 0.5  # s: where overlaps were not located, a point of speech this often stands for "may be here"


def contested(tx: Transcript) -> tuple[float, ...] | None:
    """Times on a mono mix where both parties may have talked at once, which the kinds' mono_doubt
    weigh a fail against; None where overlaps are measured (stereo) or there were none (every change of
    voice had a pause). Two voices told apart: the diarizer's list. Not told apart: every EVERY s of
    speech and each stretch's end, since a hold announcement or an apology may have been said under the
    other party's words anywhere and Whisper then writes only the louder voice."""
    if tx.channels == "stereo" or tx.overlap_reliability in ("channels", "no-overlap"):
        return None
    if tx.diarization.get("voices") == 2:
        return tuple(tx.diarization.get("contested", ()))
    times = [t for spans in tx.activity.values() for s, e in spans
             for t in [*(s + k * EVERY for k in range(int((e - s) / EVERY) + 1)), e]]
    return tuple(sorted(round(t, 2) for t in times))


class Judge:
    """Applies one pack's rules to timelines. `meaning`: the pack's intents with the embedder the
    scorer loaded (default: the pack's own embedder, loaded once per process)."""

    def __init__(self, pack: RulePack, company: str = "", meaning: PackMeaning | None = None):
        self.pack = pack
        self.company = Company.named(company, pack.language)
        self.meaning = meaning

    def judge(self, tl: Timeline) -> list[Finding]:
        # A cross-call rule (request-fulfilment) is judged when requests' statuses are recomputed.
        return [self.check(rule, tl) for rule in self.pack.rules if not KINDS[rule.kind].cross_call]

    def check(self, rule: Rule, tl: Timeline) -> Finding:
        kind = KINDS[rule.kind]
        tx = tl.transcript
        if kind.role_bound and not tl.roles_known:
            if tx.roles == "uncertain":
                return result(rule, None, None, "not evaluated: roles uncertain on this mono recording "
                                                f"(agent/customer confidence {tx.role_confidence or 0:.2f})")
            return result(rule, None, None, "not evaluated: agent and customer are not separated "
                                            "on this mono recording")
        where = contested(tx)
        if kind.needs_measured_overlap and where is not None:
            return result(rule, None, None, "not evaluated: on this mono recording a speaker took over "
                                            "without a pause, and how long both talked at once cannot be "
                                            "measured from the mix")
        if tl.meaning is None and kind.intents(rule.params):
            pm = self.meaning or meaning_for(self.pack)
            tl = dataclasses.replace(tl, meaning=pm.call(tx) if pm else None)
        finding = kind.judge(rule, tl, self.company)
        if finding.passed is False and where is not None:
            # Where one party took over without a pause both may have talked at once; there the mix loses
            # words and may give them to the wrong voice: a fail that could rest on that is not given.
            why = kind.mono_doubt(finding, where)
            if why:
                if tx.diarization.get("voices") != 2:
                    why += " (the voices of this mono recording were not told apart, so both may have " \
                           "talked at once anywhere)"
                return finding.not_evaluated(why)
        return finding

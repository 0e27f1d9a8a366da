"""From findings to a score and a flag; and the rule examples, run as tiny timed transcripts."""

from __future__ import annotations

from dataclasses import dataclass

from callaudit.analysis import timeline
from callaudit.analysis.findings import Finding
from callaudit.analysis.judge import Judge
from callaudit.analysis.meaning import PackMeaning, meaning_for
from callaudit.analysis.rulepack import Example, Rule, RulePack
from callaudit.transcript.records import Transcript, Turn, Word

FLAGGING = ("major", "critical")


@dataclass(frozen=True)
class Verdict:
    score: float
    flagged: bool
    reasons: tuple[str, ...]
    findings: tuple[Finding, ...]


def verdict(pack: RulePack, findings: list[Finding], flag_below: float) -> Verdict:
    """100 minus the weight of every failed rule; flagged on a failed major/critical rule or a low score."""
    weights = {r.id: r.weight for r in pack.rules}
    failed = [f for f in findings if f.passed is False]
    score = max(0.0, round(100.0 - sum(weights[f.rule] for f in failed), 1))
    reasons = [f"{f.rule} failed ({f.severity})" for f in failed if f.severity in FLAGGING]
    if score < flag_below:
        reasons.append(f"score {score:g} below {flag_below:g}")
    return Verdict(score, bool(reasons), tuple(reasons), tuple(findings))


NO_SPEECH = "no speech: nothing to judge"


def judge_transcript(pack: RulePack, tx: Transcript, company: str = "", flag_below: float = 80.0,
                     meaning: PackMeaning | None = None) -> Verdict:
    """The pack's verdict on a transcript. A call in which nobody said a word (silence, a dead line, a
    recorder left running) is not judged at all: every rule is not evaluated and a person should listen.
    `meaning`: the pack's intents as the scorer loaded them (default: meaning_for(pack))."""
    if not tx.turns:
        findings = [Finding(r.id, r.title, r.severity, None, None,
                            f"not evaluated: {NO_SPEECH} (no words were heard in {tx.duration:.0f} s)")
                    for r in pack.rules]
        return Verdict(100.0, True, (f"{NO_SPEECH}: a person should listen to the recording",), tuple(findings))
    pm = meaning or meaning_for(pack)
    tl = timeline.build(tx, pack.hold_phrases, pack.fuzzy, pm.call(tx) if pm else None, pack.hold_intent)
    return verdict(pack, Judge(pack, company, pm).judge(tl), flag_below)


def example_transcript(ex: Example, language: str) -> Transcript:
    """An example's turns as a transcript: words spread evenly over each turn, speech where turns are."""
    turns = []
    for t in ex.turns:
        speaker, start, end, text = t[:4]
        words = text.split()
        step = (end - start) / max(1, len(words))
        ws = tuple(Word(start + i * step, start + (i + 1) * step, w, 1.0) for i, w in enumerate(words))
        turns.append(Turn(speaker, float(start), float(end), text, ws, -24.0 + (t[4] if len(t) > 4 else 0.0)))
    turns.sort(key=lambda t: t.start)
    activity = {r: tuple((t.start, t.end) for t in turns if t.speaker == r) for r in {t.speaker for t in turns}}
    mono = any(t.speaker == "unknown" for t in turns)
    duration = max(t.end for t in turns) + 1.0
    return Transcript(tuple(turns), activity, language, "mono" if mono else "stereo", duration, {"name": "example"})


@dataclass(frozen=True)
class ExampleResult:
    rule: Rule
    example: Example
    finding: Finding

    @property
    def ok(self) -> bool:
        return self.finding.passed is {"pass": True, "fail": False, "not-evaluated": None}[self.example.expect]


def run_examples(pack: RulePack, meaning: PackMeaning | None = None) -> list[ExampleResult]:
    """Judge every rule's examples with that rule alone; an example is proven when the verdict matches."""
    pm = meaning or meaning_for(pack)
    out = []
    for rule in pack.rules:
        for ex in rule.examples:
            tx = example_transcript(ex, pack.language)
            tl = timeline.build(tx, pack.hold_phrases, pack.fuzzy, pm.call(tx) if pm else None, pack.hold_intent)
            out.append(ExampleResult(rule, ex, Judge(pack, ex.company, pm).check(rule, tl)))
    return out

"""What an HR report holds: the scored calls of a period, per agent and per department, with the
decisions taken on them and the step the disciplinary ladder recommends. Every text is redacted."""

from __future__ import annotations

import re
import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from .errors import CallauditError
from .redact import Redactor, redact_result
from .reviews import DISMISSED, Decision, history, in_force
from .schema import SCORED, Call, Score


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime  # exclusive
    label: str


def parse_period(text: str | None, now: datetime | None = None) -> Period:
    """`2026-11`, `last-7d`, `2026-11-01..2026-11-15` (inclusive) or None for everything."""
    now = now or datetime.now(timezone.utc)
    if not text:
        return Period(datetime(1970, 1, 1, tzinfo=timezone.utc), now + timedelta(days=1), "all time")
    t = text.strip()
    try:
        if m := re.fullmatch(r"(\d{4})-(\d{2})", t):
            y, mo = int(m[1]), int(m[2])
            start = datetime(y, mo, 1, tzinfo=timezone.utc)
            end = datetime(y + (mo == 12), mo % 12 + 1, 1, tzinfo=timezone.utc)
            return Period(start, end, t)
        if m := re.fullmatch(r"last-(\d+)d", t):
            return Period(now - timedelta(days=int(m[1])), now, f"last {m[1]} days")
        if m := re.fullmatch(r"(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})", t):
            a, b = date.fromisoformat(m[1]), date.fromisoformat(m[2])
            if b < a:
                raise ValueError
            return Period(datetime.combine(a, time(), timezone.utc),
                          datetime.combine(b + timedelta(days=1), time(), timezone.utc), f"{a} .. {b}")
    except ValueError:
        pass
    raise CallauditError(f"bad --period {text!r}: use a month (2026-11), last-Nd (last-7d) "
                         "or FROM..TO (2026-11-01..2026-11-15)")


@dataclass
class CallView:
    """One scored call as HR reads it; `findings` carry the decision in force ("status")."""

    db_id: int
    id: str
    sha256: str
    file: str
    when: datetime
    agent: str  # extension, or "" when unknown
    agent_name: str
    department: str
    score: float
    flagged: bool
    flag_reasons: list[str]
    findings: list[dict]
    transcript: list[dict]
    words: list[list[tuple[float, float, str]]]
    rules_version: str
    model: str
    duration: float
    channels: str
    decisions: list[Decision]
    audio_note: str | None = None  # why the report carries no audio for this call

    @property
    def failed(self) -> list[dict]:
        return [f for f in self.findings if f["status"] == "failed"]


@dataclass
class AgentView:
    extension: str
    name: str
    department: str
    calls: list[CallView] = field(default_factory=list)
    average: float | None = None
    trend: list[tuple[str, float]] = field(default_factory=list)  # (day, average score that day)
    violations: dict[tuple[str, str], int] = field(default_factory=dict)  # (rule, severity) -> count
    repeats: list[str] = field(default_factory=list)  # rules failed on more than one call
    offences: int = 0  # counted toward the ladder (policy window, not dismissed)
    recommendation: str = ""


@dataclass
class ReportData:
    period: Period
    generated: datetime
    filters: dict
    calls: list[CallView]
    agents: list[AgentView]
    top_rules: list[tuple[str, int]]

    @property
    def flagged(self) -> list[CallView]:
        return [c for c in self.calls if c.flagged]


def _view(call: Call, score: Score, decisions: list[Decision], redactor: Redactor) -> CallView:
    verdict = redact_result(score.verdict, redactor)
    findings = []
    for f in verdict["findings"]:
        f = dict(f)
        decision = in_force(decisions, f["rule"]) if f["status"] == "failed" else None
        f["review"] = decision
        if decision == DISMISSED:
            f["status"] = "dismissed"
        findings.append(f)
    agent = call.agent
    words = [[(w.start, w.end, w.text) for w in t.words] for t in score.turns]
    return CallView(call.id, call.public_id, call.sha256, call.path, call.started_at or score.scored_at,
                    agent.extension if agent else (call.extension or ""), agent.name if agent else "",
                    agent.department if agent else "", score.score, score.flagged, list(score.flag_reasons),
                    findings, verdict["transcript"], words, score.rules_version, score.model_name,
                    score.duration, call.channels or "", decisions)


def gather(s: Session, period: Period, policy: dict, redactor: Redactor, agent: str | None = None,
           department: str | None = None, flagged_only: bool = False, now: datetime | None = None) -> ReportData:
    """Collect the period's scored calls and everything the reports say about them."""
    now = now or datetime.now(timezone.utc)
    calls = s.scalars(select(Call).where(Call.status == SCORED)
                      .options(selectinload(Call.agent), selectinload(Call.scores).selectinload(Score.findings),
                               selectinload(Call.scores).selectinload(Score.turns))).all()
    decisions = history(s, [c.id for c in calls])
    views = [_view(c, c.current_score, decisions.get(c.id, []), redactor) for c in calls if c.current_score]
    if agent:
        views = [v for v in views if agent in (v.agent, v.agent_name)]
    if department:
        views = [v for v in views if v.department == department]
    everything = sorted(views, key=lambda v: v.when)
    in_period = [v for v in everything if period.start <= v.when < period.end]
    shown = [v for v in in_period if v.flagged] if flagged_only else in_period

    agents: dict[str, AgentView] = {}
    for v in in_period:
        key = v.agent or "unknown"
        a = agents.setdefault(key, AgentView(v.agent or "unknown", v.agent_name, v.department))
        a.calls.append(v)
    window_start = min(period.end, now) - timedelta(days=policy["window_days"])
    for key, a in agents.items():
        a.average = round(statistics.mean(c.score for c in a.calls), 1)
        by_day: dict[str, list[float]] = {}
        for c in a.calls:
            by_day.setdefault(c.when.date().isoformat(), []).append(c.score)
        a.trend = [(d, round(statistics.mean(xs), 1)) for d, xs in sorted(by_day.items())]
        counts = Counter((f["rule"], f["severity"]) for c in a.calls for f in c.failed)
        a.violations = dict(sorted(counts.items()))
        per_rule = Counter(f["rule"] for c in a.calls for f in {x["rule"]: x for x in c.failed}.values())
        a.repeats = sorted(r for r, n in per_rule.items() if n > 1)
        # The ladder looks back over the policy window from the period's end, across all stored calls.
        history_calls = [c for c in everything if (c.agent or "unknown") == key and window_start <= c.when < period.end]
        a.offences = sum(1 for c in history_calls for f in c.failed if f["severity"] in policy["severities"])
        a.recommendation = recommend(a.offences, policy)
    top = Counter(f["rule"] for v in in_period for f in v.failed).most_common()
    filters = {"agent": agent, "department": department, "flagged": flagged_only}
    return ReportData(period, now, filters, shown, sorted(agents.values(), key=lambda a: a.extension), top)


def recommend(offences: int, policy: dict) -> str:
    """The ladder's step for this many offences, worded as a recommendation for a person to decide."""
    ladder = policy["ladder"]
    sev = "/".join(policy["severities"])
    if offences == 0 or not ladder:
        return f"no action recommended (no {sev} violations in the last {policy['window_days']} days)"
    step = ladder[min(offences, len(ladder)) - 1]
    return (f"recommended for HR to consider: {step} ({offences} {sev} violation(s) in the last "
            f"{policy['window_days']} days, dismissed findings excluded); a person decides")

"""What an HR report holds: the scored calls of a period, per agent and per department, with the
decisions taken on them and the step the disciplinary ladder recommends.

Built for a month of a real call centre (100 000 calls): the summaries come from GROUP BY queries
(store/hrqueries.py), a fixed number of statements whatever the number of calls; every call of the
report is a row read from a stream while it is written (`ReportData.calls`); the full detail of a
call — verdict, findings with evidence, transcript, words for the clips — is loaded and masked only
for the calls the report details (`Caps.details` of them, the flagged ones with the lowest scores
first when there are more), and every text shown is redacted.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterable, Iterator, NamedTuple, Sequence

from sqlalchemy.orm import Session

from callaudit.config.sections import PolicySettings
from callaudit.periods import Period
from callaudit.reports.redact import Redactor, redact_result
from callaudit.store import exports
from callaudit.store import hrqueries as q
from callaudit.store.reviews import DISMISSED, Decision, in_force


@dataclass
class CallView:
    """One scored call as HR reads it. A light view (a row of the report's stream) has no findings,
    transcript or words; a detailed one (`detailed`) has them all, each finding carrying the decision in
    force ("review") and its status ("dismissed" when a person dismissed it)."""

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
    flag_reasons: Sequence[str]
    # Empty tuples, not lists, on a light view: a month's stream makes 100 000 of them.
    findings: Sequence[dict] = ()
    transcript: Sequence[dict] = ()
    words: Sequence[list[tuple[float, float, str]]] = ()
    rules_version: str = ""
    model: str = ""
    duration: float = 0.0
    channels: str = ""
    decisions: Sequence[Decision] = ()
    audio_note: str | None = None  # why the report carries no audio for this call
    failed_rules: Sequence[str] = ()  # the rules failed and not dismissed, in order
    detailed: bool = False

    @property
    def failed(self) -> list[dict]:
        """The failed (not dismissed) findings; empty on a light view (see `failed_rules`)."""
        return [f for f in self.findings if f["status"] == "failed"]


class FailedFinding(NamedTuple):
    """One counted failure in an agent's list (the PDF's "Failed findings")."""

    when: datetime
    call: str  # public id
    rule: str
    severity: str
    at: float | None
    detail: str  # redacted


@dataclass
class AgentView:
    """One agent's part of the report: figures for the whole period, lists capped at `Caps.per_agent`."""

    extension: str
    name: str
    department: str
    checked: int = 0  # calls checked in the period
    flagged: int = 0
    average: float | None = None
    trend: list[tuple[str, float]] = field(default_factory=list)  # (day, average score that day)
    violations: dict[tuple[str, str], int] = field(default_factory=dict)  # (rule, severity) -> count
    repeats: list[str] = field(default_factory=list)  # rules failed on more than one call
    offences: int = 0  # counted toward the ladder (policy window, not dismissed)
    recommendation: str = ""
    failed: list[FailedFinding] = field(default_factory=list)  # the latest ones, oldest first
    decisions: list[Decision] = field(default_factory=list)  # the latest ones, oldest first
    decisions_total: int = 0
    charged: int = 0  # of the violations, commitments not kept (reports/requests): no call finding of theirs

    @property
    def failed_total(self) -> int:
        return sum(self.violations.values())


@dataclass(frozen=True)
class Caps:
    """How much of a big period a report spells out; the summaries always cover every call."""

    details: int = 50      # calls with full details (transcript, evidence, audio clips)
    listed: int = 1000     # rows of the flagged-call table
    per_agent: int = 100   # failed findings and decisions listed in each agent's section


@dataclass
class Section:
    """An extra part of a report that another module adds (requests and commitments, service problems):
    a titled table, its cells already redacted. HTML shows it as a table, the PDF as lines, JSON as a
    list of objects keyed by `columns`. With `agent` set it belongs to that agent's part."""

    key: str  # the HTML id and the JSON key
    title: str
    columns: list[str]
    rows: list[list]
    note: str = ""
    agent: str | None = None


class CallStream:
    """Every call of a report in time order, read from the store while it is iterated (the session must
    still be open); a detailed call comes as its full view, the others as light ones carrying their
    decisions. len(): given, else counted by one statement (or by the iteration that ran)."""

    def __init__(self, s: Session, scope: q.Scope, flagged: bool, count: int | None = None,
                 details: dict[int, CallView] | None = None, decisions: dict[int, list[Decision]] | None = None,
                 reasons: bool = True):
        self._s, self._scope, self._flagged, self._count = s, scope, flagged, count
        self._details, self._decisions, self._reasons = details or {}, decisions or {}, reasons

    def __len__(self) -> int:
        if self._count is None:
            self._count = q.count_calls(self._s, self._scope, self._flagged)
        return self._count

    def __iter__(self) -> Iterator[CallView]:
        details, decisions = self._details, self._decisions
        for row in self.rows("list" if self._reasons else None):
            yield details.get(row.id) or light_view(row, decisions.get(row.id, ()))

    def rows(self, reasons: str | None = None) -> Iterator:
        """The plain rows (store.hrqueries.report_calls) the light views are made of."""
        yield from self._counted(q.report_calls(self._s, self._scope, flagged=self._flagged, reasons=reasons))

    def csv_rows(self) -> Iterator[tuple]:
        """Every call's cells of the CSV export, written by the database (store.exports.csv_rows)."""
        yield from self._counted(exports.csv_rows(self._s, self._scope, self._flagged))

    def json_lines(self) -> Iterator[tuple[int, str]]:
        """Every call as (id, the JSON line of its light view without decisions): store.exports.json_lines.
        `detail(id)` and `decisions_of(id)` give the rest."""
        yield from self._counted(exports.json_lines(self._s, self._scope, self._flagged))

    def _counted(self, rows: Iterator) -> Iterator:
        n = 0
        q.prepare(self._s)
        for row in rows:
            n += 1
            yield row
        self._count = n

    def detail(self, call_id: int) -> CallView | None:
        return self._details.get(call_id)

    def decisions_of(self, call_id: int) -> Sequence[Decision]:
        return self._decisions.get(call_id, ())


@dataclass
class ReportData:
    period: Period
    generated: datetime
    filters: dict
    calls: CallStream | list[CallView]  # every call of the report (only the flagged ones with --flagged)
    agents: list[AgentView]
    top_rules: list[tuple[str, int]]
    total: int = 0           # calls checked in the period (all of them, even with --flagged)
    flagged_total: int = 0   # flagged calls in the period
    flagged: list[CallView] = field(default_factory=list)  # the flagged-call table (capped, time order)
    details: list[CallView] = field(default_factory=list)  # calls with full details (capped, time order)
    caps: Caps = field(default_factory=Caps)
    sections: list[Section] = field(default_factory=list)

    @property
    def flagged_note(self) -> str | None:
        """Why the flagged-call table is shorter than the number of flagged calls, and what to do."""
        more = self.flagged_total - len(self.flagged)
        if more <= 0:
            return None
        return (f"{len(self.flagged):,} of {self.flagged_total:,} flagged calls listed (the lowest scores); "
                f"{more:,} more: narrow the report with --agent EXT or a shorter --period (e.g. one day), "
                f"or get every row with --flagged --format csv.")

    @property
    def details_note(self) -> str | None:
        """How many calls of the report have no details here, and how to get them."""
        more = len(self.calls) - len(self.details)
        if more <= 0:
            return None
        return (f"Full details (transcript, evidence, audio clips) for {len(self.details):,} of the "
                f"{len(self.calls):,} calls in this report: the flagged ones with the lowest scores. For the other "
                f"{more:,}: a report for one agent (--agent EXT) or a shorter period (--period 2026-11-24, "
                f"FROM..TO), or more details per report with --details N.")


def light_view(row, decisions: Sequence[Decision] = ()) -> CallView:
    """A CallView of a stream row (store.hrqueries.CALL_COLUMNS): no transcript is read or masked."""
    (db_id, sha, path, when, agent, name, department, _, score, flagged, rules_version, model, duration,
     channels, reasons, failed) = row  # the order of store.hrqueries.CALL_COLUMNS, then the two extras
    return CallView(db_id, sha[:16], sha, path, when, agent, name, department, score, flagged, reasons or (),
                    (), (), (), rules_version, model, duration, channels or "", decisions, None,
                    q.split_rules(failed) if failed else ())


def detailed_view(call, score, agent, decisions: list[Decision], redactor: Redactor,
                  words: list[list[tuple[float, float, str]]]) -> CallView:
    """The full view of one call: its verdict masked, each failed finding with the decision in force."""
    verdict = redact_result(score.verdict, redactor)
    findings = []
    for f in verdict["findings"]:
        f = dict(f)
        decision = in_force(decisions, f["rule"], score.id) if f["status"] == "failed" else None
        f["review"] = decision
        if decision == DISMISSED:
            f["status"] = "dismissed"
        findings.append(f)
    view = CallView(call.id, call.public_id, call.sha256, call.path, call.started_at or score.scored_at,
                    agent.extension if agent else (call.extension or ""), agent.name if agent else "",
                    agent.department if agent else "", score.score, score.flagged, list(score.flag_reasons),
                    findings, verdict["transcript"], words, score.rules_version, score.model_name,
                    score.duration, call.channels or "", decisions, detailed=True)
    view.failed_rules = [f["rule"] for f in view.failed]
    return view


def _chosen(s: Session, scope: q.Scope, flagged: bool, count: int, cap: int) -> list:
    """The rows a capped list shows: all of them in time order when they fit, else the flagged ones
    with the lowest scores, put back in time order."""
    if count <= cap:
        return list(q.report_calls(s, scope, flagged=flagged))
    rows = list(q.report_calls(s, scope, flagged=flagged, worst_first=True, limit=cap))
    return sorted(rows, key=lambda r: (r.when, r.id))


SectionMaker = Callable[[Session, "ReportData"], Iterable[Section]]


def gather(s: Session, period: Period, policy: PolicySettings, redactor: Redactor, agent: str | None = None,
           department: str | None = None, flagged_only: bool = False, now: datetime | None = None, *,
           caps: Caps = Caps(), words: bool = True, flagged_list: bool = True, agent_failures: bool = True,
           sections: Sequence[SectionMaker] = ()) -> ReportData:
    """Collect the period's summaries, its capped lists and detailed calls, and the stream of all its calls,
    in a fixed number of statements whatever the number of calls (at most 11 with the stream, and what
    the section makers add).
    What a format does not show can be left out: `words`, the detailed calls' words (the HTML report
    silences masked numbers in its clips with them); `flagged_list`, the flagged-call table (HTML);
    `agent_failures`, each agent's latest failed findings (PDF). `sections`: functions adding extra report
    sections (see `Section`), called last."""
    now = now or datetime.now(timezone.utc)
    scope = q.Scope(period, agent, department)
    filters = {"agent": agent, "department": department, "flagged": flagged_only}
    q.prepare(s)
    agents: dict[str, AgentView] = {}
    sums: dict[str, float] = {}
    for key, day, name, dept, n, total, flagged in q.agent_days(s, scope):
        a = agents.get(key) or agents.setdefault(key, AgentView(key or "unknown", name or "", dept or ""))
        a.checked += n
        a.flagged += flagged or 0
        sums[key] = sums.get(key, 0.0) + total
        a.trend.append((day, round(total / n, 1)))
    data = ReportData(period, now, filters, [], [], [], caps=caps)
    if agents:
        for key, a in agents.items():
            a.average = round(sums[key] / a.checked, 1)
        _violations(s, scope, policy, now, agents)
        if agent_failures and caps.per_agent:
            for key, when, sha, rule, severity, at, detail in q.failed_findings(s, scope, caps.per_agent):
                agents[key].failed.append(FailedFinding(when, sha[:16], rule, severity, at, redactor.text(detail or "")))
        data.agents = sorted(agents.values(), key=lambda a: a.extension)
        data.total = sum(a.checked for a in data.agents)
        data.flagged_total = sum(a.flagged for a in data.agents)
        top: Counter = Counter()
        for a in data.agents:
            for (rule, _), n in a.violations.items():
                top[rule] += n
        data.top_rules = sorted(top.items(), key=lambda kv: (-kv[1], kv[0]))
        by_call: dict[int, list[Decision]] = {}
        for key, d in q.decisions(s, scope):
            by_call.setdefault(d.call_id, []).append(d)
            agents[key].decisions.append(d)
        for a in data.agents:  # the latest ones: what a person weighing the next step needs first
            a.decisions_total = len(a.decisions)
            a.decisions = a.decisions[-caps.per_agent:] if caps.per_agent else []
        count = data.flagged_total if flagged_only else data.total
        if flagged_list:
            data.flagged = [light_view(r, by_call.get(r.id, ()))
                            for r in _chosen(s, scope, True, data.flagged_total, caps.listed)]
        chosen = [r.id for r in _chosen(s, scope, flagged_only, count, caps.details)] if caps.details else []
        rows = q.call_details(s, chosen)
        said = q.words(s, [score.id for _, score, _ in rows]) if words else {}
        views = {call.id: detailed_view(call, score, ag, by_call.get(call.id, []), redactor, said.get(score.id, []))
                 for call, score, ag in rows}
        data.details = [views[i] for i in chosen if i in views]
        data.calls = CallStream(s, scope, flagged_only, count, views, by_call)
    for make in sections:
        data.sections.extend(make(s, data))
    return data


def _violations(s: Session, scope: q.Scope, policy: PolicySettings, now: datetime,
                agents: dict[str, AgentView]) -> None:
    # The ladder looks back over the policy window from the period's end, across all stored calls.
    window_start = min(scope.period.end, now) - timedelta(days=policy.window_days)
    per_rule: dict[str, Counter] = {}
    for key, rule, severity, n, calls, offences in q.violations(s, scope, window_start, policy.severities):
        a = agents.get(key)
        if a is None:  # offences only before the period: no section for this agent
            continue
        if n:
            a.violations[(rule, severity)] = n
            per_rule.setdefault(key, Counter())[rule] += calls
        a.offences += offences or 0
    for key, a in agents.items():
        a.violations = dict(sorted(a.violations.items()))
        a.repeats = sorted(r for r, n in per_rule.get(key, {}).items() if n > 1)
        a.recommendation = recommend(a.offences, policy)


def report_calls(s: Session, period: Period, agent: str | None = None, department: str | None = None,
                 flagged_only: bool = False) -> CallStream:
    """Only the stream of a report's calls (what a CSV needs), without the summaries: one statement (its
    len() is known once it has been read)."""
    return CallStream(s, q.Scope(period, agent, department), flagged_only, reasons=False)


def recommend(offences: int, policy: PolicySettings) -> str:
    """The ladder's step for this many offences, worded as a recommendation for a person to decide."""
    ladder = policy.ladder
    sev = "/".join(policy.severities)
    if offences == 0 or not ladder:
        return f"no action recommended (no {sev} violations in the last {policy.window_days} days)"
    step = ladder[min(offences, len(ladder)) - 1]
    return (f"recommended for HR to consider: {step} ({offences} {sev} violation(s) in the last "
            f"{policy.window_days} days, dismissed findings excluded); a person decides")

"""The questions the workspace's pages ask the store, each answered for one viewer: an agent sees only
the calls of their extension, a supervisor their department's calls (and those of the listen-ins they
made), hr and admin everything. What a viewer may not see is simply not found.

The review queue is one SQL query (filters, review state and paging in the database), so that it stays
fast with many thousands of calls stored.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, false, func, or_, select, true
from sqlalchemy.orm import Session, aliased, joinedload, selectinload

from callaudit.store.accounts import ADMIN, AGENT, HR, SUPERVISOR
from callaudit.store.reviews import APPEALED, CONFIRMED, DISMISSED, REJECTED, UPHELD, Decision, history, in_force
from callaudit.store.schema import (
    SCORED,
    AgentRow,
    CallRow,
    FindingRow,
    ListenSessionRow,
    ReviewRow,
    ScoreRow,
    TurnRow,
    UserRow,
)

UNREVIEWED, APPEAL_DECIDED = "unreviewed", "appeal decided"
STATES = (UNREVIEWED, CONFIRMED, DISMISSED, APPEALED, APPEAL_DECIDED)
PAGE = 50
_PUBLIC_ID = re.compile(r"^[0-9a-f]{16}$")


def visible(viewer: UserRow):
    """The SQL condition on calls (outer-joined with agents) of what `viewer` may see."""
    if viewer.role in (ADMIN, HR):
        return true()
    if viewer.role == AGENT and viewer.extension:
        return CallRow.extension == viewer.extension
    if viewer.role == SUPERVISOR:
        theirs = select(ListenSessionRow.call_id).where(ListenSessionRow.supervisor == viewer.name,
                                                        ListenSessionRow.call_id.is_not(None))
        mine = AgentRow.department == viewer.department if viewer.department else false()
        return or_(mine, CallRow.id.in_(theirs))
    return false()


def _state_filter(state: str):
    """The SQL condition that the current scoring's review state is `state`: an appeal waiting for HR
    ("appealed"), else an appeal decided, else the latest confirm/dismiss, else unreviewed (see `state_of`)."""
    r, answer, later = aliased(ReviewRow), aliased(ReviewRow), aliased(ReviewRow)
    on_score = r.score_id == ScoreRow.id
    waiting = select(r.id).where(on_score, r.decision == APPEALED,
                                 ~select(answer.id).where(answer.appeal_id == r.id).exists()).exists()
    decided = select(r.id).where(on_score, r.decision.in_((UPHELD, REJECTED))).exists()
    if state == APPEALED:
        return waiting
    if state == APPEAL_DECIDED:
        return and_(~waiting, decided)
    if state == UNREVIEWED:
        return ~select(r.id).where(on_score, r.decision.in_((CONFIRMED, DISMISSED, APPEALED, UPHELD, REJECTED))).exists()
    # confirmed / dismissed: the latest of those two on this scoring is `state`
    latest = select(r.id).where(on_score, r.decision == state,
                                ~select(later.id).where(later.score_id == ScoreRow.id, later.id > r.id,
                                                        later.decision.in_((CONFIRMED, DISMISSED))).exists()).exists()
    return and_(~waiting, ~decided, latest)


def state_of(decisions: list[tuple[int, str, int | None]]) -> str:
    """The review state from one scoring's (review id, decision, appeal answered) rows, as `_state_filter`."""
    answered = {a for _, _, a in decisions if a is not None}
    if any(d == APPEALED and i not in answered for i, d, _ in decisions):
        return APPEALED
    if any(d in (UPHELD, REJECTED) for _, d, _ in decisions):
        return APPEAL_DECIDED
    last = [d for _, d, _ in sorted(decisions) if d in (CONFIRMED, DISMISSED)]
    return last[-1] if last else UNREVIEWED


@dataclass(frozen=True)
class QueueFilters:
    start: datetime | None = None
    end: datetime | None = None
    department: str = ""
    agent: str = ""       # extension
    rule: str = ""        # calls that failed this rule
    state: str = ""       # one of STATES
    flagged_only: bool = True
    page: int = 1


@dataclass(frozen=True)
class QueueRow:
    db_id: int
    id: str
    when: datetime
    extension: str
    agent_name: str
    department: str
    score: float
    flagged: bool
    state: str
    failed: tuple[str, ...] = ()


def queue(s: Session, viewer: UserRow, f: QueueFilters) -> tuple[list[QueueRow], int]:
    """One page of the viewer's scored calls matching `f`, newest first, and how many match in all.
    The page is found first on ids alone; its details (agent, failed rules, review state) are then read for
    those rows only, so that the cost stays near that of one indexed scan however many calls are stored."""
    when = func.coalesce(CallRow.started_at, ScoreRow.scored_at)
    q = (select(CallRow.id, ScoreRow.id, when.label("when"))
         .join(ScoreRow, and_(ScoreRow.call_id == CallRow.id, ScoreRow.is_current))
         .outerjoin(AgentRow, AgentRow.id == CallRow.agent_id)
         .where(CallRow.status == SCORED, visible(viewer)))
    if f.flagged_only:
        q = q.where(ScoreRow.flagged.is_(True))
    if f.start is not None:
        q = q.where(when >= f.start)
    if f.end is not None:
        q = q.where(when < f.end)
    if f.department:
        q = q.where(AgentRow.department == f.department)
    if f.agent:
        q = q.where(CallRow.extension == f.agent)
    if f.rule:
        q = q.where(select(FindingRow.id).where(FindingRow.score_id == ScoreRow.id, FindingRow.rule == f.rule,
                                                FindingRow.passed.is_(False)).exists())
    if f.state in STATES:
        q = q.where(_state_filter(f.state))
    page = max(1, f.page)
    # One scan gives the page and, through a window count, how many match in all.
    found = s.execute(q.add_columns(func.count().over()).order_by(when.desc(), CallRow.id.desc())
                      .limit(PAGE).offset((page - 1) * PAGE)).all()
    if not found:
        return [], s.scalar(select(func.count()).select_from(q.subquery()))
    total = found[0][3]
    ids = [(c, sid, at) for c, sid, at, _ in found]
    score_ids = [sid for _, sid, _ in ids]
    details = {r[0]: r for r in s.execute(
        select(CallRow.id, CallRow.sha256, CallRow.extension, AgentRow.name, AgentRow.department, ScoreRow.score,
               ScoreRow.flagged).join(ScoreRow, ScoreRow.call_id == CallRow.id)
        .outerjoin(AgentRow, AgentRow.id == CallRow.agent_id).where(ScoreRow.id.in_(score_ids)))}
    failed: dict[int, list[str]] = {}
    for score_id, rule in s.execute(select(FindingRow.score_id, FindingRow.rule)
                                    .where(FindingRow.score_id.in_(score_ids), FindingRow.passed.is_(False))
                                    .order_by(FindingRow.position)):
        failed.setdefault(score_id, []).append(rule)
    decided: dict[int, list] = {}
    for rid, score_id, decision, appeal in s.execute(select(ReviewRow.id, ReviewRow.score_id, ReviewRow.decision,
                                                            ReviewRow.appeal_id)
                                                     .where(ReviewRow.score_id.in_(score_ids))):
        decided.setdefault(score_id, []).append((rid, decision, appeal))
    rows = []
    for call_id, score_id, at in ids:
        d = details[call_id]
        rows.append(QueueRow(call_id, d[1][:16], at, d[2] or "", d[3] or "", d[4] or "", d[5], d[6],
                             state_of(decided.get(score_id, [])), tuple(failed.get(score_id, ()))))
    return rows, total


def choices(s: Session, viewer: UserRow) -> dict[str, list[str]]:
    """What the queue's filters offer this viewer: departments, agents (extension, name), rules."""
    seen = select(CallRow.agent_id).outerjoin(AgentRow, AgentRow.id == CallRow.agent_id).where(visible(viewer))
    agents = s.execute(select(AgentRow.extension, AgentRow.name, AgentRow.department)
                       .where(AgentRow.id.in_(seen)).order_by(AgentRow.extension)).all()
    rules = s.scalars(select(FindingRow.rule).distinct().order_by(FindingRow.rule)).all()
    return {"departments": sorted({d for _, _, d in agents if d}), "agents": [(e, n) for e, n, _ in agents],
            "rules": list(rules)}


def find_visible_call(s: Session, viewer: UserRow, public_id: str) -> CallRow | None:
    """The scored call with this public id, with its current scoring's findings and words, if the viewer
    may see it; None otherwise (a forbidden call looks like a missing one)."""
    public_id = (public_id or "").lower()
    if not _PUBLIC_ID.match(public_id):
        return None
    q = (select(CallRow).outerjoin(AgentRow, AgentRow.id == CallRow.agent_id)
         .where(CallRow.sha256.like(public_id + "%"), CallRow.status == SCORED, visible(viewer))
         .options(joinedload(CallRow.agent), selectinload(CallRow.scores).selectinload(ScoreRow.findings),
                  selectinload(CallRow.scores).selectinload(ScoreRow.turns).selectinload(TurnRow.words)))
    return s.scalars(q).first()


def visible_ids(s: Session, viewer: UserRow, call_ids: list[int]) -> set[int]:
    """Which of these calls the viewer may see."""
    if not call_ids:
        return set()
    return set(s.scalars(select(CallRow.id).outerjoin(AgentRow, AgentRow.id == CallRow.agent_id)
                         .where(CallRow.id.in_(call_ids), visible(viewer))))


def can_see_agent(s: Session, viewer: UserRow, extension: str) -> AgentRow | None:
    """The agent row of `extension` if the viewer may see that agent's page."""
    agent = s.scalars(select(AgentRow).where(AgentRow.extension == extension)).first()
    if agent is None:
        return None
    if viewer.role in (ADMIN, HR):
        return agent
    if viewer.role == AGENT:
        return agent if viewer.extension == extension else None
    if viewer.role == SUPERVISOR:
        return agent if viewer.department and agent.department == viewer.department else None
    return None


@dataclass
class AgentSummary:
    """What the agent page shows: trend, violations, the offences counted toward the ladder."""

    agent: AgentRow
    calls: int = 0
    average: float | None = None
    trend: list[tuple[str, float]] = field(default_factory=list)            # (day, average score)
    violations: dict[tuple[str, str], int] = field(default_factory=dict)   # (rule, severity) -> failed, not dismissed
    offences: int = 0
    recent: list[QueueRow] = field(default_factory=list)
    decisions: list[tuple[str, Decision]] = field(default_factory=list)     # (call public id, decision)


def agent_summary(s: Session, viewer: UserRow, agent: AgentRow, severities: tuple[str, ...], window_days: int,
                  now: datetime) -> AgentSummary:
    """The agent's scored calls: average per day, failed findings by rule and severity (dismissed ones and
    upheld appeals left out), and the offences within the window that the disciplinary ladder counts."""
    out = AgentSummary(agent)
    when = func.coalesce(CallRow.started_at, ScoreRow.scored_at)
    calls = s.execute(select(CallRow.id, CallRow.sha256, when, ScoreRow.id, ScoreRow.score)
                      .join(ScoreRow, and_(ScoreRow.call_id == CallRow.id, ScoreRow.is_current))
                      .where(CallRow.extension == agent.extension, CallRow.status == SCORED)
                      .order_by(when)).all()
    if not calls:
        return out
    out.calls = len(calls)
    out.average = round(sum(c[4] for c in calls) / len(calls), 1)
    by_day: dict[str, list[float]] = {}
    for c in calls:
        by_day.setdefault(c[2].date().isoformat(), []).append(c[4])
    out.trend = [(d, round(sum(xs) / len(xs), 1)) for d, xs in sorted(by_day.items())]
    decided = history(s, [c[0] for c in calls])
    info = {c[3]: c for c in calls}
    counts: Counter = Counter()
    window_start = now - timedelta(days=window_days)
    for score_id, rule, severity in s.execute(select(FindingRow.score_id, FindingRow.rule, FindingRow.severity)
                                              .where(FindingRow.score_id.in_(list(info)),
                                                     FindingRow.passed.is_(False))):
        call = info[score_id]
        if in_force(decided.get(call[0], []), rule, score_id) == DISMISSED:
            continue
        counts[(rule, severity)] += 1
        if severity in severities and window_start <= call[2] <= now:
            out.offences += 1
    out.violations = dict(sorted(counts.items()))
    out.recent, _ = queue(s, viewer, QueueFilters(agent=agent.extension, flagged_only=False))
    ids = {c[0]: c[1][:16] for c in calls}
    out.decisions = sorted(((ids[cid], d) for cid, ds in decided.items() for d in ds), key=lambda p: p[1].at)
    return out


@dataclass
class DepartmentStats:
    weeks: list[tuple[str, int, int]] = field(default_factory=list)  # (week, calls checked, flagged)
    top_rules: list[tuple[str, int]] = field(default_factory=list)
    agents: list[tuple[str, str, int, float]] = field(default_factory=list)  # extension, name, calls, average


def department_stats(s: Session, viewer: UserRow, department: str = "", since: datetime | None = None
                     ) -> DepartmentStats:
    """Calls checked and flagged per ISO week, the rules failed most often, and each agent's figures."""
    when = func.coalesce(CallRow.started_at, ScoreRow.scored_at)
    base = (select(CallRow.id).join(ScoreRow, and_(ScoreRow.call_id == CallRow.id, ScoreRow.is_current))
            .outerjoin(AgentRow, AgentRow.id == CallRow.agent_id)
            .where(CallRow.status == SCORED, visible(viewer)))
    if department:
        base = base.where(AgentRow.department == department)
    if since is not None:
        base = base.where(when >= since)
    rows = s.execute(base.with_only_columns(when, ScoreRow.flagged, CallRow.extension, AgentRow.name,
                                            ScoreRow.score)).all()
    weeks: dict[str, list[int]] = {}
    people: dict[str, list] = {}
    for at, flagged, ext, name, score in rows:
        year, week, _ = at.isocalendar()
        w = weeks.setdefault(f"{year}-W{week:02d}", [0, 0])
        w[0] += 1
        w[1] += bool(flagged)
        p = people.setdefault(ext or "", [name or "", 0, 0.0])
        p[1] += 1
        p[2] += score
    out = DepartmentStats([(k, v[0], v[1]) for k, v in sorted(weeks.items())])
    out.agents = [(e, p[0], p[1], round(p[2] / p[1], 1)) for e, p in sorted(people.items())]
    top = s.execute(select(FindingRow.rule, func.count()).join(ScoreRow, ScoreRow.id == FindingRow.score_id)
                    .where(FindingRow.passed.is_(False), ScoreRow.call_id.in_(base))
                    .group_by(FindingRow.rule).order_by(func.count().desc(), FindingRow.rule).limit(10)).all()
    out.top_rules = [(r, n) for r, n in top]
    return out


def listen_ins(s: Session, viewer: UserRow, limit: int = 500) -> list[ListenSessionRow]:
    """The spot-check audit, newest first: hr and admin see every session, a supervisor their own."""
    q = select(ListenSessionRow).order_by(ListenSessionRow.started_at.desc(), ListenSessionRow.id.desc())
    if viewer.role == SUPERVISOR:
        q = q.where(ListenSessionRow.supervisor == viewer.name)
    elif viewer.role not in (ADMIN, HR):
        return []
    return list(s.scalars(q.limit(limit)))


def public_ids(s: Session, call_ids: list[int]) -> dict[int, str]:
    if not call_ids:
        return {}
    return {i: sha[:16] for i, sha in s.execute(select(CallRow.id, CallRow.sha256).where(CallRow.id.in_(call_ids)))}

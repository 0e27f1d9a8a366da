"""What HR reports and the workspace ask about many calls at once, answered by the database.

Every function here issues a fixed number of statements whatever the number of calls: counts,
averages, trends, violations and the ladder's inputs are GROUP BY queries; the report's calls come
as one ordered stream (rows handed on as they are read); the full detail of a call (verdict,
words) is loaded in bulk and only for the calls a page or a file shows.

A report's calls are the scored calls whose time (when the call took place, else when it was
scored) falls in the period, narrowed by agent and department. A failed finding counts (toward
violations and the ladder) unless the decision in force on it is a dismissal; a decision applies
to the scoring it was made on (see store/reviews.py, `in_force`, which this SQL mirrors).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterator, Sequence

from sqlalchemy import Select, String, and_, case, cast, func, literal, literal_column, or_, select, text, tuple_
from sqlalchemy.orm import Session, aliased

from callaudit.periods import Period
from callaudit.store.reviews import ALL_FINDINGS, CONFIRMED, DISMISSED, REJECTED, UPHELD, Decision
from callaudit.store.schema import SCORED, AgentRow, CallRow, FindingRow, ReviewRow, ScoreRow, TurnRow, UserRow, WordRow

# Inline, not a bound parameter: SQLite uses a partial index (ix_findings_failed) only for a literal.
FAILED_STATUS = literal_column("'failed'")
STREAM_BATCH = 2000  # rows fetched at a time: memory stays flat however many calls a report holds

WHEN = func.coalesce(CallRow.started_at, ScoreRow.scored_at)  # a call's time, as the reports order and bound it
AGENT_KEY = func.coalesce(AgentRow.extension, CallRow.extension, "")  # "" = unknown agent


@dataclass(frozen=True)
class Scope:
    """Which calls a report covers: a period, optionally one agent (extension or name) or department."""

    period: Period
    agent: str | None = None
    department: str | None = None


def _dialect(s: Session) -> str:
    return s.get_bind().dialect.name


def prepare(s: Session) -> None:
    """Ready this transaction for a report's big reads: on PostgreSQL, room to sort a month of calls in
    memory (the default 4 MB spills to disk) and no JIT (the planner's estimate for the stream's per-call
    subquery, billions, turns it on, and compiling took 1.3 s of the stream's 2.6 s at 100 000 calls,
    EXPLAIN ANALYZE), both in one statement (set_config(..., true) is SET LOCAL); SQLite needs nothing."""
    if _dialect(s) == "postgresql":
        s.execute(text("SELECT set_config('work_mem', '64MB', true), set_config('jit', 'off', true)"))


def _between(lo: datetime, hi: datetime):
    # Written so that the index on calls.started_at serves the common case (the call's time is known).
    return or_(and_(CallRow.started_at >= lo, CallRow.started_at < hi),
               and_(CallRow.started_at.is_(None), ScoreRow.scored_at >= lo, ScoreRow.scored_at < hi))


def agent_ids(scope: Scope):
    """SQL: the ids of the agents `scope.agent` names (by extension or name)."""
    return select(AgentRow.id).where(or_(AgentRow.extension == scope.agent, AgentRow.name == scope.agent))


def _calls(scope: Scope, *cols, lo: datetime | None = None) -> Select:
    """SELECT cols FROM the scope's scored calls (with their current score and agent), from `lo` (default:
    the period's start) to the period's end."""
    q = (select(*cols).select_from(CallRow)
         .join(ScoreRow, and_(ScoreRow.call_id == CallRow.id, ScoreRow.is_current == True))  # noqa: E712
         .outerjoin(AgentRow, AgentRow.id == CallRow.agent_id)
         .where(CallRow.status == SCORED, _between(lo or scope.period.start, scope.period.end)))
    if scope.agent:  # so written that an agent's report reads only that agent's calls (ix_calls_agent_started)
        q = q.where(or_(CallRow.agent_id.in_(agent_ids(scope)),
                        and_(CallRow.agent_id.is_(None), CallRow.extension == scope.agent)))
    if scope.department:
        q = q.where(func.coalesce(AgentRow.department, "") == scope.department)
    return q


def in_id_order(s: Session, scope: Scope, q: Select, lo: datetime | None = None) -> Select:
    """`q` (a `_calls` query over [lo or the period's start, the period's end)) bounded by the first and last
    id of the scored calls of that time, so that SQLite reads the calls, their scores and findings in id
    order, page after page, instead of in time order through ix_calls_report, one page read per row (the
    sort or grouping happens either way). Ids follow arrival, so the span is about the period's; at worst
    it is the whole table. 100 000 calls, sqlite3 shell: the CSV stream 1.7 -> 1.05 CPU-s (page reads
    337 000 -> 55 000), the violations 1.2 -> 0.7. PostgreSQL, and one agent's report
    (ix_calls_agent_started), keep their plans."""
    if _dialect(s) == "postgresql" or scope.agent:
        return q
    lo, hi = lo or scope.period.start, scope.period.end
    # Bounds of a superset of the rows (any agent, current score or not), from ix_calls_report alone.
    timed = select(CallRow.id).where(CallRow.status == SCORED, CallRow.started_at >= lo, CallRow.started_at < hi)
    untimed = (select(CallRow.id).join(ScoreRow, ScoreRow.call_id == CallRow.id)
               .where(CallRow.status == SCORED, CallRow.started_at.is_(None), ScoreRow.scored_at >= lo,
                      ScoreRow.scored_at < hi))
    ids = timed.union_all(untimed).subquery()
    span = select(func.min(ids.c.id).label("lo"), func.max(ids.c.id).label("hi")).subquery("span")
    return q.join(span, CallRow.id.between(span.c.lo, span.c.hi))


def decision_in_force(f) -> Any:
    """SQL for the latest confirm/dismiss on finding `f`'s scoring that names f's rule or the whole call,
    an upheld appeal read as a dismissal and a rejected one as a confirmation (NULL when none):
    `reviews.in_force` as a correlated subquery."""
    r, rf = aliased(ReviewRow), aliased(FindingRow)
    said = case((r.decision == UPHELD, DISMISSED), (r.decision == REJECTED, CONFIRMED), else_=r.decision)
    return (select(said).outerjoin(rf, rf.id == r.finding_id)
            .where(r.score_id == f.score_id, r.decision.in_((CONFIRMED, DISMISSED, UPHELD, REJECTED)),
                   or_(r.finding_id.is_(None), rf.rule == f.rule))
            .order_by(r.created_at.desc(), r.id.desc()).limit(1).correlate(f).scalar_subquery())


def dismissed_failures(pairs: bool = False) -> Select:
    """SQL: the ids (with `pairs`: (score id, rule)) of the failed findings whose decision in force is a
    dismissal; a decision names a rule or the whole call, so the pair decides as well as the id. Only the
    scorings people decided on are looked at (decisions are few), and the database works the list out once
    per statement, not once per finding."""
    d = aliased(FindingRow)
    return select(*((d.score_id, d.rule) if pairs else (d.id,))).where(
        d.status == FAILED_STATUS, d.score_id.in_(select(ReviewRow.score_id)), decision_in_force(d) == DISMISSED)


def counting(f, s: Session | None = None) -> Any:
    """SQL: finding `f` failed and is not dismissed (it counts toward violations and the ladder). On
    PostgreSQL (session `s`) by (score id, rule), which ix_findings_failed holds: an index-only scan instead
    of reading each failed finding's row for its id (100 000 calls: the CSV stream 2.4 -> 1.7 s, EXPLAIN
    ANALYZE); SQLite's indexes hold the id, and it has no fast NOT IN for pairs (minutes)."""
    if s is not None and _dialect(s) == "postgresql":
        return and_(f.status == FAILED_STATUS, tuple_(f.score_id, f.rule).not_in(dismissed_failures(pairs=True)))
    return and_(f.status == FAILED_STATUS, f.id.not_in(dismissed_failures()))


def _day(s: Session):
    """SQL for a call's day (UTC), 'YYYY-MM-DD'."""
    if _dialect(s) == "postgresql":
        return func.to_char(func.timezone("UTC", WHEN), "YYYY-MM-DD")
    return func.date(WHEN)


def agent_days(s: Session, scope: Scope) -> list[tuple]:
    """Per agent key and day of the period: (key, day, name, department, calls, sum of scores, flagged
    calls), in day order: the agents' figures and their trends in one pass."""
    day = _day(s)
    q = _calls(scope, AGENT_KEY, day, func.max(AgentRow.name), func.max(AgentRow.department), func.count(),
               func.sum(ScoreRow.score), func.sum(case((ScoreRow.flagged == True, 1), else_=0)))  # noqa: E712
    return [tuple(r) for r in s.execute(in_id_order(s, scope, q).group_by(AGENT_KEY, day).order_by(AGENT_KEY, day))]


def count_calls(s: Session, scope: Scope, flagged: bool = False) -> int:
    """How many calls the scope holds (the flagged ones only with `flagged`)."""
    q = _calls(scope, func.count())
    if flagged:
        q = q.where(ScoreRow.flagged == True)  # noqa: E712
    return s.execute(q).scalar_one()


def violations(s: Session, scope: Scope, window_start: datetime, severities: Sequence[str]) -> list[tuple]:
    """Counted failed findings per (agent key, rule, severity): (key, rule, severity, in the period, calls in
    the period, offences in the ladder's window [window_start, period end) whose severity is in
    `severities`). One pass over the failed findings of both stretches of time."""
    f = aliased(FindingRow)
    start = scope.period.start
    in_period = WHEN >= start
    lo = min(start, window_start)
    q = _calls(scope, AGENT_KEY, f.rule, f.severity,
               func.sum(case((in_period, 1), else_=0)),
               func.count(func.distinct(case((in_period, CallRow.id)))),
               func.sum(case((and_(WHEN >= window_start, f.severity.in_(list(severities) or [""])), 1), else_=0)),
               lo=lo)
    q = in_id_order(s, scope, q, lo).join(f, f.score_id == ScoreRow.id).where(counting(f, s)).group_by(AGENT_KEY, f.rule, f.severity)
    return [tuple(r) for r in s.execute(q)]


def decisions(s: Session, scope: Scope) -> list[tuple[str, Decision]]:
    """Every decision on the period's calls: (agent key, Decision), by call time, then oldest first."""
    rs = aliased(ScoreRow)
    q = (_calls(scope, AGENT_KEY, ReviewRow, FindingRow.rule, rs.is_current, UserRow.name, UserRow.role)
         .join(ReviewRow, ReviewRow.call_id == CallRow.id)
         .where(CallRow.id.in_(select(ReviewRow.call_id)))  # from the few decided calls, not the period's all
         .outerjoin(FindingRow, FindingRow.id == ReviewRow.finding_id)
         .outerjoin(rs, rs.id == ReviewRow.score_id)
         .outerjoin(UserRow, UserRow.id == ReviewRow.user_id)
         .order_by(WHEN, CallRow.id, ReviewRow.created_at, ReviewRow.id))
    # As reviews.history says them: the author is the account's name (old rows: the free-text reviewer).
    return [(key, Decision(r.call_id, rule or ALL_FINDINGS, r.decision, account or r.reviewer, r.comment,
                           r.created_at, r.score_id, bool(current), r.id, r.user_id, r.appeal_id, role or ""))
            for key, r, rule, current, account, role in s.execute(q)]


def _failed_rules(s: Session):
    """SQL: the counted failed rules of the current score as 'position:rule;…' (order restored in Python)."""
    f = aliased(FindingRow)
    item = cast(f.position, String) + literal(":") + f.rule
    return (select(func.aggregate_strings(item, ";")).where(f.score_id == ScoreRow.id, counting(f, s))
            .correlate(ScoreRow).scalar_subquery())


def split_rules(joined: str | None) -> list[str]:
    """'3:closing;0:greeting' -> ['greeting', 'closing']."""
    if not joined:
        return []
    pairs = [item.split(":", 1) for item in joined.split(";")]
    if len(pairs) > 1:
        pairs.sort(key=lambda p: int(p[0]))
    return [rule for _, rule in pairs]


CALL_COLUMNS = (CallRow.id, CallRow.sha256, CallRow.path, WHEN.label("when"), AGENT_KEY.label("agent"),
                func.coalesce(AgentRow.name, "").label("agent_name"),
                func.coalesce(AgentRow.department, "").label("department"), ScoreRow.id.label("score_id"),
                ScoreRow.score, ScoreRow.flagged, ScoreRow.rules_version, ScoreRow.model_name, ScoreRow.duration,
                CallRow.channels)


def report_calls(s: Session, scope: Scope, *, flagged: bool = False, worst_first: bool = False,
                 limit: int | None = None, reasons: str | None = "list") -> Iterator[Any]:
    """The scope's calls as a stream of rows (CALL_COLUMNS, flag_reasons, failed_rules), in time order
    (or flagged ones first, lowest score first), fetched STREAM_BATCH at a time; nothing of a call's
    transcript is read. flag_reasons: a list (`reasons="list"`) or None (the CSV and JSON exports have
    rows of their own: store/exports.py)."""
    if reasons:
        extra = (ScoreRow.flag_reasons,)
    else:
        extra = (literal_column("NULL").label("flag_reasons"),)
    if limit is None and _dialect(s) == "postgresql":
        # PostgreSQL runs a select list's subquery once per row, serially, above the parallel scans; the
        # scope's failed rules grouped once and joined: at 100 000 calls (JIT off, load 3-8) the stream took
        # 2.2 s instead of 3.1 (EXPLAIN ANALYZE: 2.7 s instead of 4.1). SQLite gained nothing from it.
        picked = _calls(scope, ScoreRow.id)
        if flagged:
            picked = picked.where(ScoreRow.flagged == True)  # noqa: E712
        f = aliased(FindingRow)
        item = cast(f.position, String) + literal(":") + f.rule
        failed = (select(f.score_id, func.aggregate_strings(item, ";").label("rules"))
                  .where(f.score_id.in_(picked), counting(f, s)).group_by(f.score_id).subquery("failed"))
        q = (_calls(scope, *CALL_COLUMNS, *extra, failed.c.rules.label("failed_rules"))
             .outerjoin(failed, failed.c.score_id == ScoreRow.id))
    else:
        q = _calls(scope, *CALL_COLUMNS, *extra, _failed_rules(s).label("failed_rules"))
        if limit is None:  # (a capped list reads only the picked calls, by id)
            q = in_id_order(s, scope, q)
    if flagged:
        q = q.where(ScoreRow.flagged == True)  # noqa: E712
    worst = (ScoreRow.flagged.desc(), ScoreRow.score, WHEN, CallRow.id)
    q = q.order_by(*(worst if worst_first else (WHEN, CallRow.id)))
    if limit is not None:
        # The few calls are picked from the narrow columns alone; only they get their failed rules worked
        # out (a database computes a select list's subquery for every row it sorts, 100 000 of them).
        pick = in_id_order(s, scope, _calls(scope, CallRow.id))
        if flagged:
            pick = pick.where(ScoreRow.flagged == True)  # noqa: E712
        pick = pick.order_by(*(worst if worst_first else (WHEN, CallRow.id))).limit(limit)
        q = q.where(CallRow.id.in_(select(pick.subquery().c.id)))
    # Core, not the ORM: these are plain rows, and the ORM's loading machinery would double their cost.
    yield from s.connection().execute(q.execution_options(yield_per=STREAM_BATCH))


def failed_findings(s: Session, scope: Scope, per_agent: int) -> list[tuple]:
    """Each agent's latest `per_agent` counted failed findings in the period, oldest first:
    (agent key, call time, call sha256, rule, severity, at, detail)."""
    f = aliased(FindingRow)
    rank = func.row_number().over(partition_by=AGENT_KEY, order_by=(WHEN.desc(), CallRow.id.desc(),
                                                                   f.position.desc())).label("rank")
    inner = (_calls(scope, AGENT_KEY.label("agent"), WHEN.label("when"), CallRow.id.label("call_id"),
                    CallRow.sha256, f.position, f.rule, f.severity, f.at, f.detail, rank)
             .join(f, f.score_id == ScoreRow.id).where(counting(f, s)).subquery())
    q = (select(inner.c.agent, inner.c.when, inner.c.sha256, inner.c.rule, inner.c.severity, inner.c.at,
                inner.c.detail).where(inner.c.rank <= per_agent)
         .order_by(inner.c.agent, inner.c.when, inner.c.call_id, inner.c.position))
    return [tuple(r) for r in s.execute(q)]


def call_details(s: Session, call_ids: Sequence[int]) -> list[tuple[CallRow, ScoreRow, AgentRow | None]]:
    """The chosen calls with their current score (verdict included) and agent, in one statement."""
    if not call_ids:
        return []
    q = (select(CallRow, ScoreRow, AgentRow)
         .join(ScoreRow, and_(ScoreRow.call_id == CallRow.id, ScoreRow.is_current == True))  # noqa: E712
         .outerjoin(AgentRow, AgentRow.id == CallRow.agent_id).where(CallRow.id.in_(list(call_ids))))
    return [tuple(r) for r in s.execute(q)]


def words(s: Session, score_ids: Sequence[int]) -> dict[int, list[list[tuple[float, float, str]]]]:
    """score id -> its turns' words [(start, end, text)], in one statement (for silencing masked numbers in
    audio clips)."""
    out: dict[int, list[list[tuple[float, float, str]]]] = {}
    if not score_ids:
        return out
    q = (select(TurnRow.score_id, TurnRow.id, WordRow.start, WordRow.end, WordRow.text)
         .join(WordRow, WordRow.turn_id == TurnRow.id, isouter=True).where(TurnRow.score_id.in_(list(score_ids)))
         .order_by(TurnRow.score_id, TurnRow.position, WordRow.position))
    last_turn = None
    for score_id, turn_id, start, end, said in s.execute(q):
        turns = out.setdefault(score_id, [])
        if turn_id != last_turn:
            turns.append([])
            last_turn = turn_id
        if said is not None:
            turns[-1].append((start, end, said))
    return out

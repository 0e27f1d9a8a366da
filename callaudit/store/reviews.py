"""HR decisions on verdicts: reviews (confirm / dismiss), agents' acknowledgements and appeals, and HR's
decisions on appeals, append-only.

Nothing is ever updated or deleted: each decision is a new row with its author's account and the time.
Only hr and admin accounts confirm, dismiss and decide appeals; an agent acknowledges or appeals only
their own calls, within [policy] appeal_days of the verdict. An upheld appeal dismisses what was
appealed; a rejected one confirms it. A decision
applies to the scoring it was made on (and the finding, when it names one): the latest one on that
scoring is in force. A rescore's verdict is new, so its failures stay unreviewed until a person decides
them; the earlier decisions still show in the history, marked as made on an earlier scoring. A
dismissed finding stops counting toward the disciplinary ladder.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from callaudit.errors import CallauditError
from callaudit.store.accounts import AGENT, DECIDERS
from callaudit.store.schema import CallRow, FindingRow, ReviewRow, ScoreRow, UserRow, utcnow

CONFIRMED, DISMISSED, APPEALED = "confirmed", "dismissed", "appealed"
ACKNOWLEDGED, UPHELD, REJECTED = "acknowledged", "upheld", "rejected"  # upheld/rejected: an appeal decided
ALL_FINDINGS = "*"  # a review of the whole call applies to each of its failed findings


@dataclass(frozen=True)
class Decision:
    """One review or appeal as the reports show it."""

    call_id: int
    rule: str  # a rule id, or "*" for the whole call
    decision: str
    by: str
    note: str
    at: datetime
    score_id: int | None = None   # the scoring it was made on
    on_current: bool = True       # made on the call's current scoring (else an earlier, superseded one)
    id: int | None = None         # the review row
    user_id: int | None = None    # the author's account (None on rows from before accounts)
    appeal_id: int | None = None  # for upheld / rejected: the appeal decided
    role: str = ""                # the author's role


AUTHOR_CHARS = 200  # reviews.reviewer's width
NOTE_CHARS = 4000


def _check_note(note: str, what: str) -> None:
    """A decision that can cost someone a bonus says why, or it is not recorded."""
    if not (note or "").strip():
        raise CallauditError(f"{what} needs --note TEXT saying why")
    if len(note) > NOTE_CHARS:
        raise CallauditError(f"{what}'s note is {len(note)} characters long: at most {NOTE_CHARS}")


def _check_author(author: UserRow, roles: tuple[str, ...], what: str) -> None:
    if author is None or author.disabled:
        raise CallauditError(f"{what} needs an enabled account as its author")
    if author.role not in roles:
        raise CallauditError(f"account {author.name!r} ({author.role}) may not record {what}: "
                             f"only {' or '.join(roles)}")


def _own_call(author: UserRow, call: CallRow, what: str) -> None:
    if author.role != AGENT or not author.extension or author.extension != call.extension:
        raise CallauditError(f"account {author.name!r} may not record {what} on call {call.public_id}: "
                             "an agent acknowledges or appeals only their own calls")


def appeal_deadline(call: CallRow, appeal_days: int) -> datetime | None:
    """Until when the call's current verdict may be acknowledged or appealed."""
    score = call.current_score
    return score.scored_at + timedelta(days=appeal_days) if score else None


def _current_failed(call: CallRow) -> list[FindingRow]:
    score = call.current_score
    return [f for f in score.findings if f.passed is False] if score else []


def review(s: Session, call: CallRow, decision: str, author: UserRow, note: str,
           finding: str | None = None) -> list[ReviewRow]:
    """Record an hr/admin account's decision on one failed finding (by rule id or finding id) or on all."""
    if decision not in (CONFIRMED, DISMISSED):
        raise CallauditError(f"unknown decision {decision!r}: use --confirm or --dismiss")
    _check_author(author, DECIDERS, "a review")
    _check_note(note, "a review")
    score = call.current_score
    if score is None:
        raise CallauditError(f"call {call.public_id} has no verdict to review (status {call.status})")
    chosen = _chosen(call, finding)
    rows = [ReviewRow(call_id=call.id, score_id=score.id, finding_id=f.id if f else None, reviewer=author.name,
                      user_id=author.id, decision=decision, comment=note) for f in chosen]
    s.add_all(rows)
    return rows


def _chosen(call: CallRow, finding: str | None) -> list[FindingRow | None]:
    failed = _current_failed(call)
    if finding is None or finding == ALL_FINDINGS:
        return [None]
    chosen = [f for f in failed if f.rule == finding or str(f.id) == finding]
    if not chosen:
        names = ", ".join(f.rule for f in failed) or "none"
        raise CallauditError(f"call {call.public_id} has no failed finding {finding!r}; failed: {names}")
    return chosen


def _agent_step(s: Session, call: CallRow, author: UserRow, note: str, what: str, appeal_days: int,
                decision: str, finding: str | None) -> ReviewRow:
    _check_author(author, (AGENT,), what)
    _own_call(author, call, what)
    if decision == APPEALED:
        _check_note(note, what)
    score = call.current_score
    if score is None:
        raise CallauditError(f"call {call.public_id} has no verdict to {what.split()[-1]}")
    deadline = appeal_deadline(call, appeal_days)
    if deadline is not None and utcnow() > deadline:
        raise CallauditError(f"{what} on call {call.public_id} came too late: the verdict could be answered "
                             f"until {deadline:%Y-%m-%d %H:%M} UTC ({appeal_days} days)")
    if decision == APPEALED and pending_appeal(s, call) is not None:
        raise CallauditError(f"call {call.public_id} already has an appeal waiting for HR's decision")
    f = _chosen(call, finding)[0]
    row = ReviewRow(call_id=call.id, score_id=score.id, finding_id=f.id if f else None, reviewer=author.name,
                    user_id=author.id, decision=decision, comment=note.strip())
    s.add(row)
    s.flush()
    return row


def appeal(s: Session, call: CallRow, author: UserRow, note: str, appeal_days: int = 14,
           finding: str | None = None) -> ReviewRow:
    """Record an agent's appeal against their own call's verdict (or one failed finding of it)."""
    return _agent_step(s, call, author, note, "an appeal", appeal_days, APPEALED, finding)


def acknowledge(s: Session, call: CallRow, author: UserRow, note: str = "", appeal_days: int = 14) -> ReviewRow:
    """Record that an agent has read their call's verdict and accepts it."""
    return _agent_step(s, call, author, note, "an acknowledgement", appeal_days, ACKNOWLEDGED, None)


def pending_appeal(s: Session, call: CallRow) -> ReviewRow | None:
    """The call's appeal on its current scoring that HR has not decided yet."""
    score = call.current_score
    if score is None:
        return None
    answer = aliased(ReviewRow)
    return s.scalars(select(ReviewRow).where(ReviewRow.call_id == call.id, ReviewRow.score_id == score.id,
                                             ReviewRow.decision == APPEALED,
                                             ~select(answer.id).where(answer.appeal_id == ReviewRow.id).exists())
                     .order_by(ReviewRow.id.desc())).first()


def decide_appeal(s: Session, call: CallRow, author: UserRow, upheld: bool, reason: str) -> ReviewRow:
    """HR's answer to the call's pending appeal: upheld (what was appealed is dismissed) or rejected (it
    stands), with the reason the agent reads."""
    _check_author(author, DECIDERS, "a decision on an appeal")
    _check_note(reason, "a decision on an appeal")
    pending = pending_appeal(s, call)
    if pending is None:
        raise CallauditError(f"call {call.public_id} has no appeal waiting for a decision")
    row = ReviewRow(call_id=call.id, score_id=pending.score_id, finding_id=pending.finding_id, reviewer=author.name,
                    user_id=author.id, decision=UPHELD if upheld else REJECTED, comment=reason, appeal_id=pending.id)
    s.add(row)
    s.flush()
    return row


def history(s: Session, call_ids: list[int]) -> dict[int, list[Decision]]:
    """Every decision on these calls, oldest first, with the rule each one concerns."""
    if not call_ids:
        return {}
    rows = s.execute(select(ReviewRow, FindingRow.rule, ScoreRow.is_current, UserRow.name, UserRow.role)
                     .outerjoin(FindingRow, ReviewRow.finding_id == FindingRow.id)
                     .outerjoin(ScoreRow, ReviewRow.score_id == ScoreRow.id)
                     .outerjoin(UserRow, ReviewRow.user_id == UserRow.id)
                     .where(ReviewRow.call_id.in_(call_ids)).order_by(ReviewRow.created_at, ReviewRow.id)).all()
    out: dict[int, list[Decision]] = {}
    for r, rule, current, account, role in rows:
        # The author is the account (its name now: renames are not possible, so it is the name then too).
        out.setdefault(r.call_id, []).append(
            Decision(r.call_id, rule or ALL_FINDINGS, r.decision, account or r.reviewer, r.comment, r.created_at,
                     r.score_id, bool(current), r.id, r.user_id, r.appeal_id, role or ""))
    return out


def in_force(decisions: list[Decision], rule: str, score_id: int) -> str | None:
    """The latest confirm/dismiss of `rule` (or of the whole call) made on scoring `score_id`, an upheld
    appeal counting as a dismissal and a rejected one as a confirmation; an appeal does not change a verdict
    by itself, and a decision on another scoring decides nothing about this one."""
    for d in reversed(decisions):
        if d.score_id == score_id and d.rule in (rule, ALL_FINDINGS):
            if d.decision in (CONFIRMED, DISMISSED):
                return d.decision
            if d.decision in (UPHELD, REJECTED):
                return DISMISSED if d.decision == UPHELD else CONFIRMED
    return None

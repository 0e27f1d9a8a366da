"""HR decisions on verdicts: reviews (confirm / dismiss) and agents' appeals, append-only.

Nothing is ever updated or deleted: each decision is a new row with its author and time, and the
latest decision on a finding is the one in force. A dismissed finding stops counting toward the
disciplinary ladder; the whole history still shows in the reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from .errors import CallauditError
from .schema import Call, Finding, Review

CONFIRMED, DISMISSED, APPEALED = "confirmed", "dismissed", "appealed"
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


def _current_failed(call: Call) -> list[Finding]:
    score = call.current_score
    return [f for f in score.findings if f.passed is False] if score else []


def review(s: Session, call: Call, decision: str, by: str, note: str, finding: str | None = None) -> list[Review]:
    """Record a reviewer's decision on one failed finding (by rule id or finding id) or on all of them."""
    if decision not in (CONFIRMED, DISMISSED):
        raise CallauditError(f"unknown decision {decision!r}: use --confirm or --dismiss")
    if not by.strip():
        raise CallauditError("a review needs its author: give --by NAME")
    score = call.current_score
    if score is None:
        raise CallauditError(f"call {call.public_id} has no verdict to review (status {call.status})")
    failed = _current_failed(call)
    if finding is not None:
        chosen = [f for f in failed if f.rule == finding or str(f.id) == finding]
        if not chosen:
            names = ", ".join(f.rule for f in failed) or "none"
            raise CallauditError(f"call {call.public_id} has no failed finding {finding!r}; failed: {names}")
    else:
        chosen = [None]
    rows = [Review(call_id=call.id, score_id=score.id, finding_id=f.id if f else None, reviewer=by.strip(),
                   decision=decision, comment=note) for f in chosen]
    s.add_all(rows)
    return rows


def appeal(s: Session, call: Call, by: str, note: str) -> Review:
    """Record an agent's appeal against a call's verdict."""
    if not by.strip() or not note.strip():
        raise CallauditError("an appeal needs --by AGENT and --note TEXT saying why")
    score = call.current_score
    row = Review(call_id=call.id, score_id=score.id if score else None, finding_id=None, reviewer=by.strip(),
                 decision=APPEALED, comment=note)
    s.add(row)
    return row


def history(s: Session, call_ids: list[int]) -> dict[int, list[Decision]]:
    """Every decision on these calls, oldest first, with the rule each one concerns."""
    if not call_ids:
        return {}
    rows = s.execute(select(Review, Finding.rule).outerjoin(Finding, Review.finding_id == Finding.id)
                     .where(Review.call_id.in_(call_ids)).order_by(Review.created_at, Review.id)).all()
    out: dict[int, list[Decision]] = {}
    for r, rule in rows:
        out.setdefault(r.call_id, []).append(
            Decision(r.call_id, rule or ALL_FINDINGS, r.decision, r.reviewer, r.comment, r.created_at))
    return out


def in_force(decisions: list[Decision], rule: str) -> str | None:
    """The latest confirm/dismiss that applies to `rule` (appeals do not change a verdict by themselves)."""
    for d in reversed(decisions):
        if d.decision in (CONFIRMED, DISMISSED) and d.rule in (rule, ALL_FINDINGS):
            return d.decision
    return None

"""Calibration sessions: a sample of scored calls that reviewers judge blind, rule by rule, so that the
tool can be compared with people and people with each other (reports/calibrate computes the figures).

A reviewer's verdicts on a call are recorded once, all rules together; the tool's verdicts on that call
are shown to them only afterwards.
"""

from __future__ import annotations

import random
from itertools import combinations

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from callaudit.errors import CallauditError
from callaudit.store.accounts import ADMIN, HR, SUPERVISOR
from callaudit.store.schema import SCORED, CalibrationRow, CalibrationVerdictRow, CallRow, FindingRow, ScoreRow, UserRow

CALIBRATORS = (ADMIN, HR, SUPERVISOR)  # who scores calibration calls
MAX_SAMPLE = 50


def create(s: Session, author: UserRow, name: str, size: int, seed: int | None = None) -> CalibrationRow:
    """A new session over a random sample of `size` scored calls."""
    if author.role not in (ADMIN, HR):
        raise CallauditError("only hr or admin start a calibration session")
    name = (name or "").strip()[:200]
    if not name:
        raise CallauditError("a calibration session needs a name")
    if not 1 <= size <= MAX_SAMPLE:
        raise CallauditError(f"a sample holds 1 to {MAX_SAMPLE} calls")
    ids = list(s.scalars(select(CallRow.id).join(ScoreRow, and_(ScoreRow.call_id == CallRow.id, ScoreRow.is_current))
                         .where(CallRow.status == SCORED).order_by(CallRow.id)))
    if not ids:
        raise CallauditError("no scored calls to calibrate on")
    sample = random.Random(seed).sample(ids, min(size, len(ids)))
    row = CalibrationRow(name=name, created_by=author.id, call_ids=sample)
    s.add(row)
    s.flush()
    return row


def sessions(s: Session) -> list[CalibrationRow]:
    return list(s.scalars(select(CalibrationRow).order_by(CalibrationRow.id.desc())))


def rules_of(call: CallRow) -> list[FindingRow]:
    """The rules a reviewer judges on a call: those of its current scoring, in the pack's order."""
    score = call.current_score
    return list(score.findings) if score else []


def done_by(s: Session, session_id: int, user_id: int) -> set[int]:
    """The calls of the session that `user_id` has judged."""
    return set(s.scalars(select(CalibrationVerdictRow.call_id).distinct()
                         .where(CalibrationVerdictRow.session_id == session_id,
                                CalibrationVerdictRow.user_id == user_id)))


def verdicts_of(s: Session, session_id: int, call_id: int, user_id: int) -> dict[str, str]:
    """Rule -> the pass/fail `user_id` gave on the call."""
    V = CalibrationVerdictRow
    return dict(s.execute(select(V.rule, V.verdict).where(V.session_id == session_id, V.call_id == call_id,
                                                          V.user_id == user_id)).all())


def submit(s: Session, session: CalibrationRow, call: CallRow, user: UserRow, verdicts: dict[str, str]) -> int:
    """Record a reviewer's pass/fail for every rule of the call, once; returns how many were stored."""
    if user.role not in CALIBRATORS:
        raise CallauditError("only hr, admin or a supervisor judge calibration calls")
    if call.id not in session.call_ids:
        raise CallauditError("that call is not in this calibration session")
    if call.id in done_by(s, session.id, user.id):
        raise CallauditError("you have judged this call already in this session")
    rules = [f.rule for f in rules_of(call)]
    missing = [r for r in rules if verdicts.get(r) not in ("pass", "fail")]
    if missing:
        raise CallauditError(f"say pass or fail for every rule: missing {', '.join(missing)}")
    score = call.current_score
    s.add_all(CalibrationVerdictRow(session_id=session.id, call_id=call.id, score_id=score.id if score else None,
                                    rule=r, user_id=user.id, verdict=verdicts[r]) for r in rules)
    return len(rules)


def pairs(s: Session, session: CalibrationRow) -> tuple[list[tuple[str, str, str | None]], list[tuple[str, str, str]]]:
    """(tool vs people: (rule, person's verdict, tool's pass|fail|None) for every verdict given;
    person vs person: (rule, one person's, another's) for each two people who judged the same call)."""
    rows = s.execute(select(CalibrationVerdictRow, FindingRow.passed)
                     .outerjoin(FindingRow, and_(FindingRow.score_id == CalibrationVerdictRow.score_id,
                                                 FindingRow.rule == CalibrationVerdictRow.rule))
                     .where(CalibrationVerdictRow.session_id == session.id)
                     .order_by(CalibrationVerdictRow.user_id)).all()
    tool = [(v.rule, v.verdict, {True: "pass", False: "fail", None: None}[passed]) for v, passed in rows]
    by_item: dict[tuple[int, str], list[str]] = {}
    for v, _ in rows:
        by_item.setdefault((v.call_id, v.rule), []).append(v.verdict)
    people = [(rule, a, b) for (_, rule), vs in by_item.items() for a, b in combinations(vs, 2)]
    return tool, people


def reviewers(s: Session, session: CalibrationRow) -> list[str]:
    return list(s.scalars(select(UserRow.name).where(UserRow.id.in_(
        select(CalibrationVerdictRow.user_id).where(CalibrationVerdictRow.session_id == session.id)))
        .order_by(UserRow.name)))

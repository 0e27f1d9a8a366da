"""Saving a verdict: one scored call with its findings, turns and words, in one transaction.

A process killed at any moment leaves either the whole call or nothing. A rescore adds a new current
score and keeps the old one: a verdict that cost someone a bonus must stay on record.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from callaudit.analysis.contract import result_json
from callaudit.analysis.pipeline import ScoredCall
from callaudit.store.db import Store
from callaudit.store.schema import FAILED, RUNNING, SCORED, CallRow, FindingRow, ScoreRow, TurnRow, WordRow, utcnow


class LeaseLost(Exception):
    """Another worker took this call over (our lease expired); the result is dropped, not saved twice."""


def add_score(session: Session, call: CallRow, scored: ScoredCall, worker: str = "",
              batch_run_id: int | None = None) -> ScoreRow:
    """Add `scored` as the call's current score, with its findings, turns and words. No commit."""
    for old in session.scalars(select(ScoreRow).where(ScoreRow.call_id == call.id, ScoreRow.is_current)):
        old.is_current = False
    session.flush()  # the unique current-score index must see the old one retired first
    verdict, tx = scored.verdict, scored.transcript
    score = ScoreRow(call_id=call.id, is_current=True, score=verdict.score, flagged=verdict.flagged,
                     flag_reasons=list(verdict.reasons), rules_version=scored.rules_version,
                     rules_file=str(scored.rules_file), model_name=str(tx.model.get("name", "")), model=tx.model,
                     language=tx.language or "", duration=tx.duration or 0.0, verdict=result_json(scored),
                     worker=worker, batch_run_id=batch_run_id)
    score.findings = [FindingRow(position=i, rule=f.rule, title=f.title, severity=f.severity, status=f.status,
                                 passed=f.passed, at=f.at, detail=f.detail, evidence=list(f.evidence))
                      for i, f in enumerate(verdict.findings)]
    score.turns = [TurnRow(position=i, speaker=t.speaker, start=t.start, end=t.end, text=t.text,
                           loudness_db=t.loudness_db,
                           words=[WordRow(position=j, start=w.start, end=w.end, text=w.text[:200],
                                          probability=w.probability) for j, w in enumerate(t.words)])
                   for i, t in enumerate(tx.turns)]
    session.add(score)
    call.duration = tx.duration
    call.channels = tx.channels
    call.status, call.error, call.finished_at = SCORED, None, utcnow()
    return score


def save_result(store: Store, scored: ScoredCall, *, call_id: int | None = None, lease_token: str | None = None,
                worker: str = "", batch_run_id: int | None = None) -> int:
    """Store one verdict in one transaction and return the call's id.

    With `call_id` and `lease_token` (a claimed call from the queue) the save happens only while this
    worker still holds the lease: if the lease expired and another worker took the call over, LeaseLost
    is raised and nothing is written, so a call is never scored twice. Without them (a call scored
    outside the queue) the call row is found by sha256 or created."""
    with store.session() as s:
        if call_id is not None:
            # Compare-and-set on the lease token first: on PostgreSQL this also locks the row until commit.
            hit = s.execute(update(CallRow).where(CallRow.id == call_id, CallRow.status == RUNNING,
                                                  CallRow.lease_token == lease_token)
                            .values(lease_owner=None, lease_token=None, lease_until=None)
                            .execution_options(synchronize_session=False))
            if hit.rowcount != 1:
                raise LeaseLost(f"call {call_id}: lease lost")
            call = s.get(CallRow, call_id)
            s.refresh(call)
        else:
            call = s.scalars(select(CallRow).where(CallRow.sha256 == scored.sha256)).first()
            if call is None:
                call = CallRow(sha256=scored.sha256, path=str(scored.file), status=SCORED, extension=scored.agent)
                s.add(call)
                s.flush()
            # A batch worker that holds this call now loses it: its own save will find no lease.
            call.lease_owner = call.lease_token = call.lease_until = None
        add_score(s, call, scored, worker, batch_run_id)
        return call.id


def mark_failed(store: Store, call_id: int, lease_token: str | None, reason: str) -> bool:
    """Record why a claimed call could not be scored; False when the lease had already been lost."""
    with store.session() as s:
        hit = s.execute(update(CallRow).where(CallRow.id == call_id, CallRow.status == RUNNING,
                                              CallRow.lease_token == lease_token)
                        .values(status=FAILED, error=reason, finished_at=utcnow(), lease_owner=None,
                                lease_token=None, lease_until=None)
                        .execution_options(synchronize_session=False))
        return hit.rowcount == 1

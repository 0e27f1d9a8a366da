"""The questions the commands (and later the workspace) ask the store: which calls, one call by its id,
how many in each state. The CLI only prints the answers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from callaudit.errors import CallauditError
from callaudit.store.schema import FAILED, STATUSES, CallRow, RefusedFileRow, ScoreRow


def status_counts(s: Session) -> dict[str, int]:
    """How many calls are in each state (queued, running, scored, failed)."""
    return dict(s.execute(select(CallRow.status, func.count()).group_by(CallRow.status)).all())


def call_summary(c: CallRow, score: ScoreRow | None) -> dict[str, Any]:
    """A stored call and its current score, as `calls list --json` and `calls show --json` print it."""
    return {
        "id": c.public_id, "sha256": c.sha256, "file": c.path, "status": c.status, "error": c.error,
        "started_at": c.started_at.isoformat() if c.started_at else None,
        "agent": {"extension": c.extension, "name": c.agent.name if c.agent else "",
                  "department": c.agent.department if c.agent else ""} if c.extension else None,
        "src": c.src, "dst": c.dst, "uniqueid": c.uniqueid, "language": c.language, "duration": c.duration,
        "channels": c.channels, "attempts": c.attempts,
        "score": score.score if score else None, "flagged": score.flagged if score else None,
        "rules_version": score.rules_version if score else None, "model": score.model_name if score else None,
        "scored_at": score.scored_at.isoformat() if score else None,
    }


def refused_summary(r: RefusedFileRow) -> dict[str, Any]:
    """A file a batch could not read at all, as a failed row without a call id (there is no content)."""
    return {**{k: None for k in ("id", "sha256", "started_at", "agent", "src", "dst", "uniqueid", "language",
                                 "duration", "channels", "score", "flagged", "rules_version", "model", "scored_at")},
            "file": r.path, "status": FAILED, "error": r.reason, "attempts": 0}


def list_calls(s: Session, *, status: str | None = None, agent: str | None = None, flagged: bool = False,
               since: datetime | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """Stored calls, newest first (by when the call took place, else when it was queued); the failed ones
    include the files a batch refused as unreadable."""
    if status is not None and status not in STATUSES:
        raise CallauditError(f"unknown call state {status!r}: one of {', '.join(STATUSES)}")
    when = func.coalesce(CallRow.started_at, CallRow.queued_at)
    q = (select(CallRow, ScoreRow, when).outerjoin(ScoreRow, (ScoreRow.call_id == CallRow.id) & ScoreRow.is_current)
         .options(joinedload(CallRow.agent)))
    if status:
        q = q.where(CallRow.status == status)
    if agent:
        q = q.where(CallRow.extension == agent)
    if flagged:
        q = q.where(ScoreRow.flagged.is_(True))
    if since is not None:
        q = q.where(when >= since)
    rows = [(at, call_summary(c, sc)) for c, sc, at in
            s.execute(q.order_by(when.desc(), CallRow.id.desc()).limit(limit)).all()]
    if status == FAILED and not agent and not flagged:
        refused = select(RefusedFileRow).order_by(RefusedFileRow.last_seen.desc()).limit(limit)
        if since is not None:
            refused = refused.where(RefusedFileRow.last_seen >= since)
        rows += [(r.last_seen, refused_summary(r)) for r in s.scalars(refused)]
        rows.sort(key=lambda pair: pair[0], reverse=True)
    return [summary for _, summary in rows[:limit]]


def find_call(s: Session, ident: str) -> CallRow:
    """A call by the id `calls list` prints (at least 6 hex digits of its sha256) or its row number."""
    ident = ident.strip().lower()
    if ident.isdigit() and len(ident) < 6:
        call = s.get(CallRow, int(ident))
        if call:
            return call
    return by_id_prefix(s, CallRow.sha256, ident, "call", "calls list", "at least 6 hex digits")


def by_id_prefix(s: Session, column, ident: str, what: str, listing: str, hint: str):
    """The one row whose hex id `column` starts with `ident` (6+ digits), as `callaudit LISTING` prints
    it, or one line saying why there is none."""
    if len(ident) < 6 or any(ch not in "0123456789abcdef" for ch in ident):
        raise CallauditError(f"no {what} {ident!r}: give the id from `callaudit {listing}` ({hint})")
    found = s.scalars(select(column.class_).where(column.like(ident + "%")).limit(2)).all()
    if not found:
        raise CallauditError(f"no {what} {ident!r} in the store: see `callaudit {listing}`")
    if len(found) > 1:
        raise CallauditError(f"{what} id {ident!r} is ambiguous: give more digits")
    return found[0]

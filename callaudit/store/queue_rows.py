"""What the PostgreSQL queue's tables hold, read beside the calls they are about: procrastinate's jobs
(created by migration 0006; jobs/pgqueue.py defers and runs them), one `score_call` job per queued call.

Plain SQL over procrastinate's tables, so that `jobs list`, a pool waiting for its queue to drain
and a stopping worker need no event loop; the one write, retry_now, calls procrastinate's own
function.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text, update
from sqlalchemy.exc import SQLAlchemyError

from callaudit.store.db import Store
from callaudit.store.schema import FAILED, QUEUED, CallRow

SCORE_TASK = "score_call"
LIVE = ("todo", "doing")


def live_calls(store: Store) -> set[int]:
    """The calls that have a job waiting or running."""
    with store.session() as s:
        return {int(c) for (c,) in s.execute(text(
            "SELECT (args->>'call_id')::int FROM procrastinate_jobs WHERE task_name = :task "
            "AND status IN ('todo', 'doing')"), {"task": SCORE_TASK})}


def live_count(store: Store) -> int:
    """Scoring jobs still waiting or running: a pool drains the queue until none is left."""
    with store.session() as s:
        return s.scalar(text("SELECT count(*) FROM procrastinate_jobs WHERE task_name = :task "
                             "AND status IN ('todo', 'doing')"), {"task": SCORE_TASK})


def jobs(store: Store, *, status: str | None = None, retried: bool = False, limit: int = 50) -> list[dict[str, Any]]:
    """The newest jobs, each with its call: id, task, status, attempts (runs that ended, procrastinate's
    count), retries (times put back: a failure retried, a dead worker's job, `jobs retry`), when it last
    moved, the file and the call's state and error (a refused recording's reason is the call's).
    `retried`: only jobs put back at least once."""
    sql = ("SELECT j.id, j.task_name, j.status::text, j.attempts, j.scheduled_at, j.args, "
           "(SELECT max(e.at) FROM procrastinate_events e WHERE e.job_id = j.id) AS moved, "
           "(SELECT count(*) FROM procrastinate_events e WHERE e.job_id = j.id "
           " AND e.type::text IN ('deferred_for_retry', 'retried')) AS retries, "
           "c.id, c.sha256, c.path, c.status, c.error "
           "FROM procrastinate_jobs j LEFT JOIN calls c ON j.task_name = :task AND c.id = (j.args->>'call_id')::int "
           "WHERE (CAST(:status AS text) IS NULL OR j.status::text = :status) ORDER BY j.id DESC LIMIT :limit")
    out = []
    with store.session() as s:
        for row in s.execute(text(sql), {"task": SCORE_TASK, "status": status, "limit": limit}):
            (jid, task, st, attempts, scheduled, args, moved, retries, call_id, sha, path, cstatus, error) = row
            if retried and not retries:
                continue
            out.append({"id": jid, "task": task, "status": st, "attempts": attempts, "retries": retries,
                        "scheduled_at": _iso(scheduled), "moved_at": _iso(moved), "args": args,
                        "call": sha[:16] if sha else None, "call_id": call_id, "file": path,
                        "call_status": cstatus, "error": error})
    return out


def job_ids(store: Store, status: str) -> list[int]:
    with store.session() as s:
        return list(s.scalars(text("SELECT id FROM procrastinate_jobs WHERE status::text = :status ORDER BY id"),
                              {"status": status}))


def call_of(store: Store, job_id: int) -> int | None:
    with store.session() as s:
        return s.scalar(text("SELECT (args->>'call_id')::int FROM procrastinate_jobs WHERE id = :id "
                             "AND task_name = :task"), {"id": job_id, "task": SCORE_TASK})


def requeue_failed(store: Store, call_id: int) -> bool:
    """A failed call goes back to the queue (for `jobs retry`): True when it had failed."""
    with store.session() as s:
        hit = s.execute(update(CallRow).where(CallRow.id == call_id, CallRow.status == FAILED)
                        .values(status=QUEUED, error=None, attempts=0, finished_at=None)
                        .execution_options(synchronize_session=False))
        return hit.rowcount == 1


def retry_now(store: Store, job_id: int) -> bool:
    """A running job back to 'todo' at once (its worker is stopping): procrastinate's retry."""
    try:
        with store.session() as s:
            s.execute(text("SELECT procrastinate_retry_job_v2(:id, now(), NULL, NULL, NULL)"), {"id": job_id})
        return True
    except SQLAlchemyError:
        return False  # finished meanwhile, or the database is away: the stalled-job check will see to it


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when else None

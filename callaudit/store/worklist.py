"""The work queue, kept in the `calls` table: queue found recordings, claim one with a lease, renew, release.

On SQLite a worker of the local pool claims the oldest queued call (or one whose lease ran out because
its worker died), `BEGIN IMMEDIATE` making the claim atomic between the processes of one machine. On
PostgreSQL each queued call is a procrastinate job (jobs/pgqueue.py) whose worker takes that call.
A lease is renewed while the worker is alive and lapses `lease_seconds` after it dies; the save is
fenced by the lease token (see verdicts.save_result), so a call is scored exactly once whatever is killed when.
What a recording folder holds is found and read by jobs/batch.py; this module only keeps the rows.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from callaudit.config import RosterAgent
from callaudit.store.db import Store
from callaudit.store.schema import FAILED, QUEUED, RUNNING, SCORED, AgentRow, CallRow, RefusedFileRow, utcnow

QUEUED_OUTCOME, SKIPPED, REFUSED = "queued", "skipped", "failed"  # what became of a found recording


def worker_id() -> str:
    """host:pid — where a lease holder can be found when it has to be investigated."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class Job:
    """A call claimed by one worker."""

    call_id: int
    path: str
    sha256: str
    language: str | None
    extension: str | None
    token: str
    attempts: int


@dataclass(frozen=True)
class FoundRecording:
    """A recording file as a batch found it: its content's hash, its metadata, or why it is refused."""

    shown: str                 # the path as stored and printed
    size: int
    mtime: datetime
    sha256: str
    meta: dict[str, Any]
    problem: str | None = None


def _insert(session: Session, model: type):
    return (pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert)(model)


def sync_roster(session: Session, roster: tuple[RosterAgent, ...]) -> None:
    """Create or update an agent row for every roster entry (an upsert: two batches may start at once)."""
    for entry in roster:
        values = {"name": entry.name, "department": entry.department, "updated_at": utcnow()}
        ins = _insert(session, AgentRow).values(extension=entry.extension, created_at=utcnow(), **values)
        session.execute(ins.on_conflict_do_update(index_elements=["extension"], set_=values))


def _agent_id(session: Session, extension: str | None, cache: dict[str, int]) -> int | None:
    """The agent on `extension`, created (name unknown) when the roster does not list it."""
    if not extension:
        return None
    extension = extension[:32]
    if extension not in cache:
        now = utcnow()
        session.execute(_insert(session, AgentRow).values(extension=extension, name="", department="",
                                                          created_at=now, updated_at=now)
                        .on_conflict_do_nothing(index_elements=["extension"]))
        cache[extension] = session.scalar(select(AgentRow.id).where(AgentRow.extension == extension))
    return cache[extension]


def known_hashes(session: Session, shown: list[str]) -> dict[str, tuple[int | None, datetime | None, str]]:
    """path -> (size, mtime, sha256) of the stored calls at these paths: a nightly run over years of
    recordings then reads only the new files."""
    if not shown:
        return {}
    return {p: (size, mtime, sha) for p, size, mtime, sha in session.execute(
        select(CallRow.path, CallRow.size_bytes, CallRow.file_mtime, CallRow.sha256).where(CallRow.path.in_(shown)))}


def refuse(session: Session, shown: str, reason: str, run_id: int) -> None:
    """Keep a file no call can hold (unreadable: nothing to hash) with why, one row per path."""
    now = utcnow()
    values = {"reason": reason, "batch_run_id": run_id, "last_seen": now}
    session.execute(_insert(session, RefusedFileRow).values(path=shown, first_seen=now, **values)
                    .on_conflict_do_update(index_elements=["path"], set_=values))


def readable_again(session: Session, shown: list[str]) -> None:
    """These paths now hold readable recordings: they are no longer refused."""
    if shown:
        session.query(RefusedFileRow).filter(RefusedFileRow.path.in_(shown)).delete(synchronize_session=False)


def _insert_ignore(session: Session, values: dict[str, Any]) -> None:
    """INSERT … ON CONFLICT (sha256) DO NOTHING: two batches queuing the same file at once both succeed."""
    session.execute(_insert(session, CallRow).values(**values).on_conflict_do_nothing(index_elements=["sha256"]))


def add_found(session: Session, found: list[FoundRecording], *, run_id: int, language: str, rescore: bool,
              retry_failed: bool, agents: dict[str, int], limit: int | None = None,
              queued_before: int = 0) -> list[tuple[str, str, str]]:
    """Queue each found recording that needs scoring; returns (shown, queued | skipped | failed, reason)
    for each. A file already scored (same sha256) is skipped unless `rescore`; one that failed before,
    unless `retry_failed`; one still queued or leased from an interrupted run is resumed by this run.
    `limit` (--limit) counts the `queued_before` of this run's earlier chunks."""
    out: list[tuple[str, str, str]] = []

    def queued() -> int:
        return queued_before + sum(1 for _, o, _ in out if o == QUEUED_OUTCOME)

    for s in found:
        meta = s.meta or {}
        full = limit is not None and queued() >= limit
        fields = dict(path=s.shown, size_bytes=s.size, file_mtime=s.mtime, batch_run_id=run_id,
                      agent_id=_agent_id(session, meta.get("extension"), agents), extension=meta.get("extension"),
                      src=meta.get("src"), dst=meta.get("dst"), uniqueid=meta.get("uniqueid"),
                      started_at=datetime.fromisoformat(meta["start"]) if meta.get("start") else None,
                      language=meta.get("language") or language, meta=meta)
        call = session.scalars(select(CallRow).where(CallRow.sha256 == s.sha256)).first()
        if call is None and full and not s.problem:
            out.append((s.shown, SKIPPED, f"beyond --limit {limit}"))
            continue
        if call is None:
            status = FAILED if s.problem else QUEUED
            _insert_ignore(session, dict(fields, sha256=s.sha256, status=status, error=s.problem, attempts=0,
                                         queued_at=utcnow(), finished_at=utcnow() if s.problem else None))
            call = session.scalars(select(CallRow).where(CallRow.sha256 == s.sha256)).one()
            if call.batch_run_id == run_id and call.path == s.shown:
                out.append((s.shown, REFUSED, s.problem) if s.problem else (s.shown, QUEUED_OUTCOME, ""))
                continue
        if call.batch_run_id == run_id and call.path != s.shown:
            out.append((s.shown, SKIPPED, f"same recording as {call.path}"))
        elif call.status in (QUEUED, RUNNING):
            call.batch_run_id = run_id  # resumed: a killed run left it; this run finishes it
            out.append((s.shown, QUEUED_OUTCOME, ""))
        elif (call.status == SCORED and rescore) or (call.status == FAILED and retry_failed):
            if full:
                out.append((s.shown, SKIPPED, f"beyond --limit {limit}"))
                continue
            if s.problem:
                out.append((s.shown, REFUSED, s.problem))
                continue
            for k, v in fields.items():
                setattr(call, k, v)
            call.status, call.error, call.attempts, call.finished_at = QUEUED, None, 0, None
            call.queued_at = utcnow()
            out.append((s.shown, QUEUED_OUTCOME, ""))
        elif call.status == SCORED:
            same = "" if call.path == s.shown else f" as {call.path}"
            out.append((s.shown, SKIPPED, f"already scored{same} (call {call.public_id}; --rescore to score again)"))
        else:
            out.append((s.shown, SKIPPED, f"failed before: {call.error} (--retry-failed to try again)"))
    return out


class Busy(Exception):
    """The call is in another live worker's hands (its lease runs): try again later, or not at all."""


def _take(call: CallRow, owner: str, lease_seconds: float, max_attempts: int, now: datetime) -> Job | None:
    """Lease `call` (queued, or running under a lapsed lease) to `owner`; None when its workers kept
    dying on it and it is failed instead."""
    if call.status == RUNNING and call.attempts >= max_attempts:
        # Its workers keep dying on it (a decoder crash, out of memory): stop feeding it to them.
        call.status, call.finished_at = FAILED, now
        call.error = (f"{call.attempts} workers stopped while scoring it (crash, kill or out of memory; last "
                      f"{call.lease_owner}); check the file, then run batch --retry-failed")
        call.lease_owner = call.lease_token = call.lease_until = None
        return None
    token = str(uuid.uuid4())
    call.status, call.lease_owner, call.lease_token = RUNNING, owner, token
    call.lease_until = now + timedelta(seconds=lease_seconds)
    call.attempts += 1
    return Job(call.id, call.path, call.sha256, call.language, call.extension, token, call.attempts)


def claim(store: Store, owner: str, lease_seconds: float, max_attempts: int) -> Job | None:
    """Lease the oldest claimable call to `owner`, or None when nothing is claimable now. SQLite's local
    pool only (`BEGIN IMMEDIATE` makes it atomic); on PostgreSQL each call is a procrastinate job and
    its worker takes the call with take()."""
    while True:
        with store.session() as s:
            now = utcnow()
            call = s.scalars(select(CallRow)
                             .where(or_(CallRow.status == QUEUED,
                                        and_(CallRow.status == RUNNING, CallRow.lease_until < now)))
                             .order_by(CallRow.id).limit(1)).first()
            if call is None:
                return None
            job = _take(call, owner, lease_seconds, max_attempts, now)
            if job is not None:
                return job


def take(store: Store, call_id: int, owner: str, lease_seconds: float, max_attempts: int) -> Job | None:
    """Lease this one call to `owner` (a queue job names it). None: nothing to do (scored, failed, gone,
    or failed now because its workers kept dying on it). Busy: a live worker holds it."""
    with store.session() as s:
        now = utcnow()
        call = s.scalars(select(CallRow).where(CallRow.id == call_id).with_for_update()).first()
        if call is None or call.status not in (QUEUED, RUNNING):
            return None
        until = call.lease_until
        if until is not None and until.tzinfo is None:
            until = until.replace(tzinfo=timezone.utc)
        if call.status == RUNNING and until is not None and until >= now:
            raise Busy(f"call {call_id} is being scored by {call.lease_owner}")
        return _take(call, owner, lease_seconds, max_attempts, now)


def pending(store: Store) -> list[int]:
    """The calls waiting for a worker or in one's hands."""
    with store.session() as s:
        return list(s.scalars(select(CallRow.id).where(CallRow.status.in_([QUEUED, RUNNING])).order_by(CallRow.id)))


def renew(store: Store, job: Job, lease_seconds: float) -> bool:
    """Push the lease forward; False when it was lost (expired and taken over)."""
    with store.session() as s:
        hit = s.execute(update(CallRow).where(CallRow.id == job.call_id, CallRow.lease_token == job.token,
                                           CallRow.status == RUNNING)
                        .values(lease_until=utcnow() + timedelta(seconds=lease_seconds))
                        .execution_options(synchronize_session=False))
        return hit.rowcount == 1


def release(store: Store, job: Job) -> None:
    """Give a claimed call back to the queue at once (a worker stopping politely)."""
    with store.session() as s:
        s.execute(update(CallRow).where(CallRow.id == job.call_id, CallRow.lease_token == job.token, CallRow.status == RUNNING)
                  .values(status=QUEUED, lease_owner=None, lease_token=None, lease_until=None,
                          attempts=CallRow.attempts - 1)
                  .execution_options(synchronize_session=False))


def expire_owner(store: Store, owner: str) -> int:
    """Let the leases of a worker known to be dead lapse now rather than after lease_seconds."""
    with store.session() as s:
        hit = s.execute(update(CallRow).where(CallRow.lease_owner == owner, CallRow.status == RUNNING)
                        .values(lease_until=utcnow() - timedelta(seconds=1))
                        .execution_options(synchronize_session=False))
        return hit.rowcount


@dataclass(frozen=True)
class Backlog:
    queued: int
    running: int
    next_expiry: datetime | None  # the soonest a leased call can be taken over


def backlog(store: Store) -> Backlog:
    with store.session() as s:
        counts = dict(s.execute(select(CallRow.status, func.count()).where(CallRow.status.in_([QUEUED, RUNNING]))
                                .group_by(CallRow.status)).all())
        expiry = s.scalar(select(func.min(CallRow.lease_until)).where(CallRow.status == RUNNING))
    if expiry is not None and expiry.tzinfo is None:
        expiry = expiry.replace(tzinfo=timezone.utc)
    return Backlog(counts.get(QUEUED, 0), counts.get(RUNNING, 0), expiry)

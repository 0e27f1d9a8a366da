"""The work queue, kept in the `calls` table: enqueue recordings, claim one with a lease, renew, release.

A worker claims the oldest queued call (or one whose lease ran out because its worker died) with
`SELECT … FOR UPDATE SKIP LOCKED` on PostgreSQL, so workers on many machines never take the same call;
on SQLite, `BEGIN IMMEDIATE` makes the claim atomic between the processes of one machine. A lease is
renewed while the worker is alive and lapses `lease_seconds` after it dies; the save is fenced by the
lease token (see store.save_result), so a call is scored exactly once whatever is killed when.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterable

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from .audio import sha256_of
from .errors import CallauditError
from .recordings import MetadataReader
from .schema import FAILED, QUEUED, RUNNING, SCORED, Agent, Call, utcnow
from .store import Store

CHUNK = 50  # files hashed, then written in one short transaction


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


@dataclass
class EnqueueReport:
    found: int = 0
    queued: list[str] = field(default_factory=list)      # new, requeued (--rescore/--retry-failed) or resumed
    skipped: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # refused before a call row could hold them
    too_old: int = 0


@dataclass(frozen=True)
class _Seen:
    path: Path
    shown: str
    size: int
    mtime: datetime
    sha256: str | None = None
    meta: dict[str, Any] | None = None
    problem: str | None = None


def _insert(session: Session, model: type):
    return (pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert)(model)


def sync_roster(session: Session, roster: dict[str, dict[str, Any]]) -> None:
    """Create or update an Agent row for every roster entry (an upsert: two batches may start at once)."""
    for ext, entry in roster.items():
        values = {"name": entry.get("name", ""), "department": entry.get("department", ""), "updated_at": utcnow()}
        ins = _insert(session, Agent).values(extension=ext, created_at=utcnow(), **values)
        session.execute(ins.on_conflict_do_update(index_elements=["extension"], set_=values))


def _agent_id(session: Session, extension: str | None, cache: dict[str, int]) -> int | None:
    """The agent on `extension`, created (name unknown) when the roster does not list it."""
    if not extension:
        return None
    extension = extension[:32]
    if extension not in cache:
        now = utcnow()
        session.execute(_insert(session, Agent).values(extension=extension, name="", department="", created_at=now,
                                                      updated_at=now)
                        .on_conflict_do_nothing(index_elements=["extension"]))
        cache[extension] = session.scalar(select(Agent.id).where(Agent.extension == extension))
    return cache[extension]


def _shown(path: Path) -> str:
    """The path as stored and printed: a name that is not valid UTF-8 keeps its bytes as \\x escapes."""
    return os.fsencode(path.absolute()).decode("utf-8", "backslashreplace")


def _mtime(st: os.stat_result) -> datetime:
    # From nanoseconds, exactly: the quick check below compares it with the stored value.
    return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=st.st_mtime_ns // 1000)


def _look(path: Path, reader: MetadataReader, min_age: float, now: datetime) -> _Seen:
    """Everything known about a file without reading its audio: size, time, metadata, or why it is refused."""
    shown = _shown(path)
    try:
        st = path.stat()
    except OSError as e:
        return _Seen(path, shown, 0, now, problem=f"cannot read the file ({e.strerror}): fix its link or permissions")
    mtime = _mtime(st)
    if min_age and (now - mtime).total_seconds() < min_age:
        return _Seen(path, shown, st.st_size, mtime, problem="skip:modified less than [batch] min_age_seconds ago: "
                                                              "still being recorded?")
    try:
        meta = reader.read(path)
    except CallauditError as e:
        return _Seen(path, shown, st.st_size, mtime, None, {}, problem=str(e))
    if shown != str(path.absolute()):
        return _Seen(path, shown, st.st_size, mtime, None, meta,
                     problem="file name is not valid UTF-8: rename the file (e.g. with convmv) and run again")
    return _Seen(path, shown, st.st_size, mtime, None, meta)


def _hash(s: _Seen, known: dict[str, tuple[int | None, datetime | None, str]]) -> _Seen:
    """The file's sha256, read from the store when the same path with the same size and time is there
    (so that a nightly run over years of recordings reads only the new ones), else from the file."""
    size, mtime, sha = known.get(s.shown, (None, None, ""))
    if sha and size == s.size and mtime == s.mtime:
        return replace(s, sha256=sha)
    try:
        return replace(s, sha256=sha256_of(s.path))
    except OSError as e:
        return replace(s, problem=f"cannot read the file ({e.strerror})")


def _insert_ignore(session: Session, values: dict[str, Any]) -> None:
    """INSERT … ON CONFLICT (sha256) DO NOTHING: two batches queuing the same file at once both succeed."""
    session.execute(_insert(session, Call).values(**values).on_conflict_do_nothing(index_elements=["sha256"]))


def enqueue(store: Store, paths: Iterable[Path], reader: MetadataReader, *, run_id: int, language: str,
            since: datetime | None = None, limit: int | None = None, rescore: bool = False,
            retry_failed: bool = False, min_age: float = 0.0,
            progress: Callable[[int], None] | None = None) -> EnqueueReport:
    """Put every found recording that needs scoring in the queue; say why each other one is skipped.

    A file already scored (same sha256) is skipped unless `rescore`; one that failed before, unless
    `retry_failed`; one still queued or leased from an interrupted run is resumed by this run. Each
    chunk of files is committed on its own, so an enqueue killed half-way is simply repeated."""
    rep = EnqueueReport()
    now = utcnow()
    agents: dict[str, int] = {}
    pending = list(paths)
    rep.found = len(pending)
    for i in range(0, len(pending), CHUNK):
        looked = []
        for path in pending[i:i + CHUNK]:
            if limit is not None and len(rep.queued) >= limit:
                rep.skipped.append((_shown(path), f"beyond --limit {limit}"))
                continue
            s = _look(path, reader, min_age, now)
            if s.problem and s.problem.startswith("skip:"):
                rep.skipped.append((s.shown, s.problem[5:]))
                continue
            if s.problem and s.problem.startswith("cannot read"):  # no content, so no call row to hold it
                rep.failed.append((s.shown, s.problem))
                continue
            when = datetime.fromisoformat(s.meta["start"]) if s.meta and s.meta.get("start") else s.mtime
            if since is not None and when < since:
                rep.too_old += 1
                continue
            looked.append(s)
        with store.session() as session:
            known = {p: (size, mtime, sha) for p, size, mtime, sha in session.execute(
                select(Call.path, Call.size_bytes, Call.file_mtime, Call.sha256)
                .where(Call.path.in_([s.shown for s in looked])))} if looked else {}
        seen = []
        for s in looked:
            s = _hash(s, known)
            if s.sha256 is None:
                rep.failed.append((s.shown, s.problem or "unreadable"))
            else:
                seen.append(s)
        with store.session() as session:
            _enqueue_chunk(session, seen, rep, run_id=run_id, language=language, rescore=rescore,
                           retry_failed=retry_failed, agents=agents, limit=limit)
        if progress:
            progress(min(i + CHUNK, len(pending)))
    return rep


def _enqueue_chunk(session: Session, seen: list[_Seen], rep: EnqueueReport, *, run_id: int, language: str,
                   rescore: bool, retry_failed: bool, agents: dict[str, int], limit: int | None) -> None:
    for s in seen:
        meta = s.meta or {}
        full = limit is not None and len(rep.queued) >= limit
        fields = dict(path=s.shown, size_bytes=s.size, file_mtime=s.mtime, batch_run_id=run_id,
                      agent_id=_agent_id(session, meta.get("extension"), agents), extension=meta.get("extension"),
                      src=meta.get("src"), dst=meta.get("dst"), uniqueid=meta.get("uniqueid"),
                      started_at=datetime.fromisoformat(meta["start"]) if meta.get("start") else None,
                      language=meta.get("language") or language, meta=meta)
        call = session.scalars(select(Call).where(Call.sha256 == s.sha256)).first()
        if call is None and full and not s.problem:
            rep.skipped.append((s.shown, f"beyond --limit {limit}"))
            continue
        if call is None:
            status = FAILED if s.problem else QUEUED
            _insert_ignore(session, dict(fields, sha256=s.sha256, status=status, error=s.problem, attempts=0,
                                         queued_at=utcnow(), finished_at=utcnow() if s.problem else None))
            call = session.scalars(select(Call).where(Call.sha256 == s.sha256)).one()
            if call.batch_run_id == run_id and call.path == s.shown:
                (rep.failed.append((s.shown, s.problem)) if s.problem else rep.queued.append(s.shown))
                continue
        if call.batch_run_id == run_id and call.path != s.shown:
            rep.skipped.append((s.shown, f"same recording as {call.path}"))
        elif call.status in (QUEUED, RUNNING):
            call.batch_run_id = run_id  # resumed: a killed run left it; this run finishes it
            rep.queued.append(s.shown)
        elif (call.status == SCORED and rescore) or (call.status == FAILED and retry_failed):
            if full:
                rep.skipped.append((s.shown, f"beyond --limit {limit}"))
                continue
            if s.problem:
                rep.failed.append((s.shown, s.problem))
                continue
            for k, v in fields.items():
                setattr(call, k, v)
            call.status, call.error, call.attempts, call.finished_at = QUEUED, None, 0, None
            call.queued_at = utcnow()
            rep.queued.append(s.shown)
        elif call.status == SCORED:
            same = "" if call.path == s.shown else f" as {call.path}"
            rep.skipped.append((s.shown, f"already scored{same} (call {call.public_id}; --rescore to score again)"))
        else:
            rep.skipped.append((s.shown, f"failed before: {call.error} (--retry-failed to try again)"))


def claim(store: Store, owner: str, lease_seconds: float, max_attempts: int) -> Job | None:
    """Lease the oldest claimable call to `owner`, or None when nothing is claimable now."""
    while True:
        with store.session() as s:
            now = utcnow()
            q = (select(Call)
                 .where(or_(Call.status == QUEUED, and_(Call.status == RUNNING, Call.lease_until < now)))
                 .order_by(Call.id).limit(1))
            if store.dialect == "postgresql":
                q = q.with_for_update(skip_locked=True)
            call = s.scalars(q).first()
            if call is None:
                return None
            if call.status == RUNNING and call.attempts >= max_attempts:
                # Its workers keep dying on it (a decoder crash, out of memory): stop feeding it to them.
                call.status, call.finished_at = FAILED, now
                call.error = (f"{call.attempts} workers stopped while scoring it (crash, kill or out of memory; last "
                              f"{call.lease_owner}); check the file, then run batch --retry-failed")
                call.lease_owner = call.lease_token = call.lease_until = None
                continue
            token = str(uuid.uuid4())
            call.status, call.lease_owner, call.lease_token = RUNNING, owner, token
            call.lease_until = now + timedelta(seconds=lease_seconds)
            call.attempts += 1
            return Job(call.id, call.path, call.sha256, call.language, call.extension, token, call.attempts)


def renew(store: Store, job: Job, lease_seconds: float) -> bool:
    """Push the lease forward; False when it was lost (expired and taken over)."""
    with store.session() as s:
        hit = s.execute(update(Call).where(Call.id == job.call_id, Call.lease_token == job.token,
                                           Call.status == RUNNING)
                        .values(lease_until=utcnow() + timedelta(seconds=lease_seconds))
                        .execution_options(synchronize_session=False))
        return hit.rowcount == 1


def release(store: Store, job: Job) -> None:
    """Give a claimed call back to the queue at once (a worker stopping politely)."""
    with store.session() as s:
        s.execute(update(Call).where(Call.id == job.call_id, Call.lease_token == job.token, Call.status == RUNNING)
                  .values(status=QUEUED, lease_owner=None, lease_token=None, lease_until=None,
                          attempts=Call.attempts - 1)
                  .execution_options(synchronize_session=False))


def expire_owner(store: Store, owner: str) -> int:
    """Let the leases of a worker known to be dead lapse now rather than after lease_seconds."""
    with store.session() as s:
        hit = s.execute(update(Call).where(Call.lease_owner == owner, Call.status == RUNNING)
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
        counts = dict(s.execute(select(Call.status, func.count()).where(Call.status.in_([QUEUED, RUNNING]))
                                .group_by(Call.status)).all())
        expiry = s.scalar(select(func.min(Call.lease_until)).where(Call.status == RUNNING))
    if expiry is not None and expiry.tzinfo is None:
        expiry = expiry.replace(tzinfo=timezone.utc)
    return Backlog(counts.get(QUEUED, 0), counts.get(RUNNING, 0), expiry)

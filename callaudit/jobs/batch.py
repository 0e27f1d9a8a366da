"""The nightly batch's first half: find the recordings under the folders, read each one's metadata and
hash, and queue the ones that need scoring (store/worklist.py keeps the queue; workers.py scores it).

Each chunk of files is committed on its own, so a batch killed half-way is simply run again.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterable

from callaudit.digest import sha256_of
from callaudit.errors import CallauditError
from callaudit.sources.metadata import MetadataReader
from callaudit.store import worklist
from callaudit.store.db import Store
from callaudit.store.schema import utcnow

CHUNK = 50  # files hashed, then written in one short transaction


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
    if not stat.S_ISREG(st.st_mode):  # reading a FIFO or a device would wait (or read) forever
        kind = "a FIFO" if stat.S_ISFIFO(st.st_mode) else "a device" if stat.S_ISCHR(st.st_mode) or \
            stat.S_ISBLK(st.st_mode) else "a socket" if stat.S_ISSOCK(st.st_mode) else "not a file"
        return _Seen(path, shown, 0, mtime, problem=f"cannot read the file: not a regular file ({kind}); "
                                                     "only recordings are scored: move it out of the folder")
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


def enqueue(store: Store, paths: Iterable[Path], reader: MetadataReader, *, run_id: int, language: str,
            since: datetime | None = None, limit: int | None = None, rescore: bool = False,
            retry_failed: bool = False, min_age: float = 0.0,
            progress: Callable[[int], None] | None = None) -> EnqueueReport:
    """Put every found recording that needs scoring in the queue; say why each other one is skipped. A file
    that cannot be read at all is stored as refused: there is no content to key a call by."""
    rep = EnqueueReport()
    now = utcnow()
    agents: dict[str, int] = {}
    pending = list(paths)
    rep.found = len(pending)
    for i in range(0, len(pending), CHUNK):
        failed_before = len(rep.failed)
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
            known = worklist.known_hashes(session, [s.shown for s in looked])
        found = []
        for s in looked:
            s = _hash(s, known)
            if s.sha256 is None:
                rep.failed.append((s.shown, s.problem or "unreadable"))
            else:
                found.append(worklist.FoundRecording(s.shown, s.size, s.mtime, s.sha256, s.meta or {}, s.problem))
        with store.session() as session:
            for shown, reason in rep.failed[failed_before:]:
                worklist.refuse(session, shown, reason, run_id)
            worklist.readable_again(session, [f.shown for f in found])
            outcomes = worklist.add_found(session, found, run_id=run_id, language=language, rescore=rescore,
                                          retry_failed=retry_failed, agents=agents, limit=limit,
                                          queued_before=len(rep.queued))
        for shown, outcome, reason in outcomes:
            if outcome == worklist.QUEUED_OUTCOME:
                rep.queued.append(shown)
            elif outcome == worklist.SKIPPED:
                rep.skipped.append((shown, reason))
            else:
                rep.failed.append((shown, reason))
        if progress:
            progress(min(i + CHUNK, len(pending)))
    return rep

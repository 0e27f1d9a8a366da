"""Scoring the queue: the worker loop and a pool of worker processes.

Each worker process loads the model once (one Scorer) and then claims, scores and saves one call at a
time until the queue is empty. A worker that is killed loses nothing but the call in hand, whose lease
lapses and which another worker (or the next run) scores again from the start.
"""

from __future__ import annotations

import ctypes
import multiprocessing as mp
import os
import queue
import signal
import socket
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable

from sqlalchemy.exc import SQLAlchemyError

from callaudit.config import Config
from callaudit.config.sections import StoreSettings
from callaudit.errors import CallauditError
from callaudit.store import queue_rows, worklist
from callaudit.store.db import Store, error_line, open_store
from callaudit.store.schema import utcnow
from callaudit.store.verdicts import LeaseLost, mark_failed, save_result

Emit = Callable[[dict[str, Any]], None]

# Set when Ctrl-C or SIGTERM asked this process to stop. The interrupt can surface as another error
# (raised inside a library's lazy import, say): the flag tells it from a real failure of the file.
STOP = threading.Event()


def request_stop(_signum=None, _frame=None) -> None:
    """Signal handler for SIGINT/SIGTERM: stop now, handing the call in hand back to the queue."""
    STOP.set()
    raise KeyboardInterrupt


@dataclass(frozen=True)
class WorkerSettings:
    """What a worker process needs to start on its own (picklable: it crosses into spawned processes)."""

    db: str  # the full URL, password included
    config: Config
    rules: str | None
    run_id: int
    forever: bool = False

    @property
    def lease_seconds(self) -> float:
        return self.config.store.lease_seconds


class Heartbeat(threading.Thread):
    """Renews a lease every third of its length while the call is being scored."""

    def __init__(self, store: Store, job: worklist.Job, lease_seconds: float):
        super().__init__(daemon=True, name=f"lease-{job.call_id}")
        self.store, self.job, self.lease = store, job, lease_seconds
        self.stopped = threading.Event()
        self.lost = False

    def run(self) -> None:
        while not self.stopped.wait(self.lease / 3):
            try:
                if not worklist.renew(self.store, self.job, self.lease):
                    self.lost = True
                    return
            except SQLAlchemyError:
                continue  # a database hiccup: the lease may well survive until the next try

    def stop(self) -> None:
        self.stopped.set()
        self.join()


def _reason(e: BaseException, path: str) -> str:
    text = str(e)
    return text[len(path) + 2:] if text.startswith(path + ": ") else text


def run_worker(settings: WorkerSettings, emit: Emit, owner: str | None = None) -> None:
    """Claim, score and save calls until none is queued or leased (or forever with settings.forever)."""
    from callaudit.analysis.pipeline import Scorer

    owner = owner or worklist.worker_id()
    cfg, st = settings.config, settings.config.store
    store = open_store(settings.db, migrate=False)
    scorer = Scorer(cfg, settings.rules)
    emit({"event": "ready", "owner": owner})
    job = None
    try:
        while True:
            if STOP.is_set():
                raise KeyboardInterrupt
            job = _claim(store, owner, st)
            if job is None:
                b = worklist.backlog(store)
                if not settings.forever and b.queued == 0 and b.running == 0:
                    break
                wait = st.poll_seconds
                if b.next_expiry is not None:  # someone else's lease: be there when it lapses
                    wait = max(0.05, min(wait, (b.next_expiry - utcnow()).total_seconds() + 0.05))
                emit({"event": "idle", "owner": owner, "running": b.running})
                time.sleep(wait)
                continue
            emit({"event": "start", "owner": owner, "call": job.call_id, "file": job.path, "attempt": job.attempts})
            score_one(store, scorer, job, settings, owner, emit)
            job = None
    except KeyboardInterrupt:
        if job is not None:
            worklist.release(store, job)
        raise
    finally:
        store.close()
    emit({"event": "exit", "owner": owner})


def _claim(store: Store, owner: str, st: StoreSettings) -> worklist.Job | None:
    for attempt in range(30):  # ride out a database restart of up to about a minute
        try:
            return worklist.claim(store, owner, st.lease_seconds, st.max_attempts)
        except SQLAlchemyError as e:
            if attempt == 29:
                raise CallauditError(f"database {store.shown}: {error_line(e)}") from None
            time.sleep(2)
    return None


def score_one(store: Store, scorer: Any, job: worklist.Job, settings: WorkerSettings, owner: str,
               emit: Emit) -> None:
    started = time.monotonic()
    beat = Heartbeat(store, job, settings.lease_seconds)
    beat.start()
    result, reason = None, None
    try:
        result = scorer.score_file(job.path, job.language, job.extension)
    except CallauditError as e:
        reason = _reason(e, job.path)
    except Exception as e:  # a bug or a library failure on this file: record it, go on with the next
        if STOP.is_set():  # not the file's fault: we were interrupted inside a library
            raise KeyboardInterrupt from e
        traceback.print_exc(file=sys.stderr)
        reason = f"internal error: {e.__class__.__name__}: {e}"
    finally:
        beat.stop()
    elapsed = time.monotonic() - started
    base = {"owner": owner, "call": job.call_id, "file": job.path, "seconds": round(elapsed, 3)}
    if result is not None and result.sha256 != job.sha256:
        result, reason = None, ("the file changed after it was queued (still being recorded? see [batch] "
                                "min_age_seconds); run batch again to queue the new content")
    try:
        if result is None:
            ok = mark_failed(store, job.call_id, job.token, reason or "unknown")
            emit({**base, "event": "failed" if ok else "lost", "reason": reason})
            return
        save_result(store, result, call_id=job.call_id, lease_token=job.token, worker=owner,
                    batch_run_id=settings.run_id)
    except LeaseLost:
        emit({**base, "event": "lost"})
        return
    emit({**base, "event": "scored", "duration": result.transcript.duration, "score": result.verdict.score,
          "flagged": result.verdict.flagged})


# ---------------------------------------------------------------- the pool
def _die_with_parent() -> None:
    try:  # Linux: the kernel kills this worker when the batch process dies, even by SIGKILL
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def child_main(work: Callable[[WorkerSettings, Emit, str], None], settings: WorkerSettings, events: Any,
               parent: int) -> None:
    """A pool's worker process: `work` (run_worker here, the procrastinate worker in pgqueue.py) until it
    returns or the parent's SIGTERM stops it; its end is told to the parent as an event."""
    _die_with_parent()
    if os.getppid() != parent:
        os._exit(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides; it sends SIGTERM
    signal.signal(signal.SIGTERM, request_stop)
    owner = worklist.worker_id()
    try:
        work(settings, events.put, owner)
    except KeyboardInterrupt:
        events.put({"event": "exit", "owner": owner})
    except CallauditError as e:
        events.put({"event": "fatal", "owner": owner, "reason": str(e)})
    except Exception as e:
        traceback.print_exc(file=sys.stderr)
        events.put({"event": "fatal", "owner": owner, "reason": f"internal error: {e.__class__.__name__}: {e}"})


def _child(settings: WorkerSettings, events: Any, parent: int) -> None:
    child_main(run_worker, settings, events, parent)


def _expire(store: Store, owner: str) -> int:
    try:
        return worklist.expire_owner(store, owner)
    except SQLAlchemyError:
        return 0  # its lease lapses instead


def run_pool(settings: WorkerSettings, workers: int, emit: Emit, child: Callable[..., None] | None = None) -> None:
    """Run `workers` worker processes until the queue is drained; a worker that dies is replaced. A
    worker's fatal error (no model, bad rule pack) stops the pool.

    SQLite (no `child`): each process claims calls from the calls table and stops when none is left; a
    dead worker's lease is released at once. PostgreSQL (`child`: pgqueue.py's procrastinate worker): the
    processes run until no scoring job is waiting or running (or forever with settings.forever), then
    are stopped; a dead worker's job is put back by the stalled-job check of the workers still alive."""
    if workers <= 1 and child is None:
        run_worker(settings, emit)
        return
    ctx = mp.get_context("spawn")  # no forked copies of database connections or model threads
    events = ctx.Queue()
    procs: dict[int, Any] = {}
    owners: dict[int, str] = {}
    done: set[str] = set()
    fatal: str | None = None
    restarts = 0
    store = open_store(settings.db, migrate=False)
    pg = child is not None

    def drained() -> bool:
        try:
            if pg:
                return not settings.forever and queue_rows.live_count(store) == 0
            b = worklist.backlog(store)
            return not (b.queued or b.running)
        except SQLAlchemyError:
            return False  # the database is away for a moment: the workers ride it out

    def start() -> None:
        p = ctx.Process(target=child or _child, args=(settings, events, os.getpid()), daemon=True)
        p.start()
        procs[p.pid] = p
        owners[p.pid] = f"{socket.gethostname()}:{p.pid}"

    try:
        for _ in range(workers):
            start()
        while procs:
            try:
                ev = events.get(timeout=0.5)
                while True:  # everything waiting, then a look at the workers
                    if ev["event"] in ("exit", "fatal"):
                        done.add(ev["owner"])
                    if ev["event"] == "fatal":
                        fatal = fatal or ev["reason"]
                    emit(ev)
                    ev = events.get_nowait()
            except queue.Empty:
                pass
            for pid, p in list(procs.items()):
                if p.is_alive():
                    continue
                p.join()
                del procs[pid]
                owner = owners.pop(pid)
                if owner in done or fatal:
                    continue
                # Died without a word (killed, out of memory, a crash in native code).
                released = 0 if pg else _expire(store, owner)
                emit({"event": "died", "owner": owner, "exitcode": p.exitcode, "released": released})
                if restarts < workers * 3 and not drained():
                    restarts += 1
                    start()
            if fatal or (pg and procs and drained()):
                for p in procs.values():
                    p.terminate()  # a procrastinate worker waits for more work: the queue is drained
                for p in procs.values():
                    p.join(30)
        if fatal:
            raise CallauditError(fatal)
    except KeyboardInterrupt:
        for p in procs.values():
            p.terminate()  # each worker hands its call back to the queue
        for p in procs.values():
            p.join(10)
        raise
    finally:
        store.close()

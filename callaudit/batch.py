"""Scoring the queue: the worker loop, a pool of worker processes, progress, and the run's summary.

Each worker process loads the model once (one Scorer) and then claims, scores and saves one call at a
time until the queue is empty. A worker that is killed loses nothing but the call in hand, whose lease
lapses and which another worker (or the next run) scores again from the start.
"""

from __future__ import annotations

import ctypes
import multiprocessing as mp
import os
import queue as stdqueue
import signal
import socket
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from . import queue
from .config import Config
from .errors import CallauditError
from .schema import FAILED, SCORED, BatchRun, Call, Score, utcnow
from .store import LeaseLost, Store, error_line, mark_failed, open_store, save_result

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
        return self.config["store"]["lease_seconds"]


class KeepTranscript:
    """Wraps the Transcriber and keeps the last transcript: the verdict JSON has no words, the store wants them."""

    def __init__(self, inner: Any):
        self.inner = inner
        self.last = None

    def transcribe(self, rec, language=None):
        self.last = self.inner.transcribe(rec, language)
        return self.last

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class Heartbeat(threading.Thread):
    """Renews a lease every third of its length while the call is being scored."""

    def __init__(self, store: Store, job: queue.Job, lease_seconds: float):
        super().__init__(daemon=True, name=f"lease-{job.call_id}")
        self.store, self.job, self.lease = store, job, lease_seconds
        self.stopped = threading.Event()
        self.lost = False

    def run(self) -> None:
        while not self.stopped.wait(self.lease / 3):
            try:
                if not queue.renew(self.store, self.job, self.lease):
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
    from .pipeline import Scorer
    from .transcribe import Transcriber

    owner = owner or queue.worker_id()
    cfg, st = settings.config, settings.config["store"]
    store = open_store(settings.db, migrate=False)
    keep = KeepTranscript(Transcriber(cfg))
    scorer = Scorer(cfg, settings.rules, transcriber=keep)
    emit({"event": "ready", "owner": owner})
    job = None
    try:
        while True:
            if STOP.is_set():
                raise KeyboardInterrupt
            job = _claim(store, owner, st)
            if job is None:
                b = queue.backlog(store)
                if not settings.forever and b.queued == 0 and b.running == 0:
                    break
                wait = st["poll_seconds"]
                if b.next_expiry is not None:  # someone else's lease: be there when it lapses
                    wait = max(0.05, min(wait, (b.next_expiry - utcnow()).total_seconds() + 0.05))
                emit({"event": "idle", "owner": owner, "running": b.running})
                time.sleep(wait)
                continue
            emit({"event": "start", "owner": owner, "call": job.call_id, "file": job.path, "attempt": job.attempts})
            _score_one(store, scorer, keep, job, settings, owner, emit)
            job = None
    except KeyboardInterrupt:
        if job is not None:
            queue.release(store, job)
        raise
    finally:
        store.close()
    emit({"event": "exit", "owner": owner})


def _claim(store: Store, owner: str, st: dict) -> queue.Job | None:
    for attempt in range(30):  # ride out a database restart of up to about a minute
        try:
            return queue.claim(store, owner, st["lease_seconds"], st["max_attempts"])
        except SQLAlchemyError as e:
            if attempt == 29:
                raise CallauditError(f"database {store.shown}: {error_line(e)}") from None
            time.sleep(2)
    return None


def _score_one(store: Store, scorer: Any, keep: KeepTranscript, job: queue.Job, settings: WorkerSettings,
               owner: str, emit: Emit) -> None:
    started = time.monotonic()
    beat = Heartbeat(store, job, settings.lease_seconds)
    beat.start()
    result, reason = None, None
    keep.last = None
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
    if result is not None and result["call"]["sha256"] != job.sha256:
        result, reason = None, ("the file changed after it was queued (still being recorded? see [batch] "
                                "min_age_seconds); run batch again to queue the new content")
    try:
        if result is None:
            ok = mark_failed(store, job.call_id, job.token, reason or "unknown")
            emit({**base, "event": "failed" if ok else "lost", "reason": reason})
            return
        save_result(store, result, keep.last, call_id=job.call_id, lease_token=job.token, worker=owner,
                    batch_run_id=settings.run_id)
    except LeaseLost:
        emit({**base, "event": "lost"})
        return
    emit({**base, "event": "scored", "duration": result["call"]["duration"], "score": result["score"],
          "flagged": result["flagged"]})


# ---------------------------------------------------------------- the pool
def _die_with_parent() -> None:
    try:  # Linux: the kernel kills this worker when the batch process dies, even by SIGKILL
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _child(settings: WorkerSettings, events: Any, parent: int) -> None:
    _die_with_parent()
    if os.getppid() != parent:
        os._exit(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides; it sends SIGTERM
    signal.signal(signal.SIGTERM, request_stop)
    owner = queue.worker_id()
    try:
        run_worker(settings, events.put, owner)
    except KeyboardInterrupt:
        events.put({"event": "exit", "owner": owner})
    except CallauditError as e:
        events.put({"event": "fatal", "owner": owner, "reason": str(e)})
    except Exception as e:
        traceback.print_exc(file=sys.stderr)
        events.put({"event": "fatal", "owner": owner, "reason": f"internal error: {e.__class__.__name__}: {e}"})


def run_pool(settings: WorkerSettings, workers: int, emit: Emit) -> None:
    """Run `workers` worker processes until the queue is drained; a worker that dies is replaced and its
    lease released at once. A worker's fatal error (no model, bad rule pack) stops the pool."""
    if workers <= 1:
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

    def start() -> None:
        p = ctx.Process(target=_child, args=(settings, events, os.getpid()), daemon=True)
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
            except stdqueue.Empty:
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
                released = queue.expire_owner(store, owner)
                emit({"event": "died", "owner": owner, "exitcode": p.exitcode, "released": released})
                b = queue.backlog(store)
                if restarts < workers * 3 and (b.queued or b.running):
                    restarts += 1
                    start()
            if fatal:
                for p in procs.values():
                    p.terminate()
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


# ---------------------------------------------------------------- runs and summaries
def begin_run(store: Store, kind: str, options: dict[str, Any]) -> int:
    with store.session() as s:
        run = BatchRun(kind=kind, host=socket.gethostname(), pid=os.getpid(), options=options)
        s.add(run)
        s.flush()
        return run.id


@dataclass
class Tally:
    """What this process saw its workers do, for the progress bar."""

    done: int = 0
    scored: int = 0
    failed: int = 0
    audio_seconds: float = 0.0
    started: float = field(default_factory=time.monotonic)
    notes: list[str] = field(default_factory=list)

    def add(self, ev: dict[str, Any]) -> None:
        kind = ev["event"]
        if kind == "scored":
            self.done, self.scored = self.done + 1, self.scored + 1
            self.audio_seconds += ev.get("duration") or 0.0
        elif kind == "failed":
            self.done, self.failed = self.done + 1, self.failed + 1
        elif kind == "died":
            self.notes.append(f"worker {ev['owner']} died (exit code {ev['exitcode']}); its call went back "
                              "to the queue")

    @property
    def wall(self) -> float:
        return max(1e-6, time.monotonic() - self.started)


def finish_run(store: Store, run_id: int, enq: queue.EnqueueReport | None, tally: Tally) -> dict[str, Any]:
    """Close the run's record and return its summary (as the database has it, whoever did the work)."""
    with store.session() as s:
        calls = s.scalars(select(Call).where(Call.batch_run_id == run_id).order_by(Call.id)).all()
        current = {sc.call_id: sc for sc in s.scalars(select(Score).where(
            Score.call_id.in_([c.id for c in calls]), Score.is_current))} if calls else {}
        scored = [c for c in calls if c.status == SCORED]
        failed = [c for c in calls if c.status == FAILED]
        pending = [c for c in calls if c.status not in (SCORED, FAILED)]
        audio = sum(current[c.id].duration for c in scored if c.id in current)
        failures = [{"file": c.path, "reason": c.error} for c in failed]
        failures += [{"file": f, "reason": r} for f, r in (enq.failed if enq else [])
                     if not any(x["file"] == f for x in failures)]
        summary = {
            "run": run_id,
            "db": store.shown,
            "found": enq.found if enq else None,
            "queued": len(enq.queued) if enq else None,
            "scored": len(scored),
            "flagged": sum(1 for c in scored if c.id in current and current[c.id].flagged),
            "skipped": len(enq.skipped) if enq else 0,
            "failed": len(failures),
            "pending": len(pending),
            "older_than_since": enq.too_old if enq else 0,
            "audio_seconds": round(audio, 1),
            "wall_seconds": round(tally.wall, 1),
            "processed_here": {"scored": tally.scored, "failed": tally.failed,
                               "audio_seconds": round(tally.audio_seconds, 1)},
            "calls": [{"id": c.public_id, "file": c.path, "status": c.status, "agent": c.extension,
                       "score": current[c.id].score if c.id in current else None,
                       "flagged": current[c.id].flagged if c.id in current else None, "reason": c.error}
                      for c in calls],
            "skipped_files": [{"file": f, "reason": r} for f, r in (enq.skipped if enq else [])],
            "failures": failures,
            "notes": tally.notes,
        }
        run = s.get(BatchRun, run_id)
        run.finished_at, run.status = utcnow(), "done"
        run.found, run.queued = summary["found"] or 0, summary["queued"] or 0
        run.skipped, run.scored, run.failed = summary["skipped"], summary["scored"], summary["failed"]
        run.report = {"failures": failures, "notes": tally.notes,
                      "audio_seconds": summary["audio_seconds"], "wall_seconds": summary["wall_seconds"]}
    return summary


def worker_summary(store: Store, run_id: int, tally: Tally) -> dict[str, Any]:
    """Close a `callaudit worker` run: what this worker scored and failed."""
    with store.session() as s:
        scored = s.scalar(select(func.count()).select_from(Score).where(Score.batch_run_id == run_id)) or 0
        run = s.get(BatchRun, run_id)
        run.finished_at, run.status, run.scored, run.failed = utcnow(), "done", scored, tally.failed
        run.report = {"audio_seconds": round(tally.audio_seconds, 1), "wall_seconds": round(tally.wall, 1),
                      "notes": tally.notes}
    return {"run": run_id, "db": store.shown, "scored": tally.scored, "failed": tally.failed,
            "audio_seconds": round(tally.audio_seconds, 1), "wall_seconds": round(tally.wall, 1),
            "notes": tally.notes}


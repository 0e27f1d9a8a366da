"""The PostgreSQL work queue: procrastinate's (its schema came with migration 0006).

Each queued call is one `score_call` job. `callaudit worker`, on any number of machines, runs
procrastinate workers: one for the calls (one call at a time: the model has the CPU) and one beside it
for the maintenance tasks, so those never wait behind a long call:

- `retry_stalled`, on [store] stalled_check (cron): the jobs of a worker that sent no heartbeat for
  [store] stalled_seconds (killed, machine lost) are put back in the queue, for another worker;
- `nightly_batch`, on [batch] schedule: the new recordings of [batch] folders are queued.

procrastinate defers a periodic task once per scheduled time however many workers run it (the
database keeps it from deferring twice), so neither needs a cron job nor runs twice. Database
errors are retried with backoff (2, 4, 8 … s; eight tries); a file that cannot be scored is not
retried: it is stored as failed with its reason, as before. Delivery is at least once: a job's call is
taken under a lease token and saved only by the holder of the token (worklist.take, verdicts), so a
call is stored exactly once whatever is killed when. SQLite keeps the local pool of workers.py.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from pathlib import Path
from typing import Any

import psycopg
from procrastinate import App, PsycopgConnector, RetryStrategy
from procrastinate.exceptions import AlreadyEnqueued, ProcrastinateException
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError

from callaudit.config import Config
from callaudit.jobs import workers
from callaudit.store import queue_rows, worklist
from callaudit.store.db import Store, open_store

CALLS, MAINTENANCE = "calls", "maintenance"  # procrastinate queues
TRANSIENT = (OperationalError, InterfaceError, psycopg.OperationalError, psycopg.InterfaceError, worklist.Busy)
RETRY = RetryStrategy(max_attempts=8, exponential_wait=2, retry_exceptions=TRANSIENT)
# procrastinate's retry of a stalled job, done only if the job is still stalled once its row is locked:
# two checks running at once (two workers) must not both put it back, the second after a live worker
# took it again. A lock on the check itself would not do: a worker killed during it would hold it forever.
RETRY_IF_STALLED = """
SELECT procrastinate_retry_job_v2(s.id, now(), NULL, NULL, NULL) FROM (
    SELECT j.id FROM procrastinate_jobs j
     WHERE j.id = %(job_id)s AND j.status = 'doing'
       AND NOT EXISTS (SELECT 1 FROM procrastinate_workers w WHERE w.id = j.worker_id
                        AND w.last_heartbeat >= now() - make_interval(secs => %(seconds)s))
       FOR UPDATE OF j) s"""


def conninfo(db: str) -> str:
    """libpq's URL for the store's SQLAlchemy one (password included: the workers must log in)."""
    return make_url(db).set(drivername="postgresql").render_as_string(hide_password=False)


def make_app(db: str, cfg: Config, runner: Runner | None = None) -> App:
    """The procrastinate app of the store at `db`: its tasks and their schedules. `runner` does the work
    in a worker process; without it (a command that only defers, lists or retries) nothing runs here."""
    app = App(connector=PsycopgConnector(conninfo=conninfo(db)))
    st = cfg.store

    @app.task(name=queue_rows.SCORE_TASK, queue=CALLS, retry=RETRY, pass_context=True)
    def score_call(context: Any, call_id: int) -> str:
        assert runner is not None
        return runner.score(call_id, context.job.id)

    @app.periodic(cron=st.stalled_check, periodic_id="stalled")
    @app.task(name="retry_stalled", queue=MAINTENANCE, queueing_lock="retry_stalled", pass_context=True)
    async def retry_stalled(context: Any, timestamp: int) -> int:
        n = 0
        for job in await context.app.job_manager.get_stalled_jobs(seconds_since_heartbeat=st.stalled_seconds):
            put_back = await context.app.connector.execute_query_all_async(
                query=RETRY_IF_STALLED, job_id=job.id, seconds=st.stalled_seconds)
            n += len(put_back)
        return n

    if cfg.batch.schedule:
        @app.periodic(cron=cfg.batch.schedule, periodic_id="nightly")
        @app.task(name="nightly_batch", queue=MAINTENANCE, retry=RETRY, pass_context=True)
        def nightly_batch(context: Any, timestamp: int) -> dict[str, Any]:
            assert runner is not None
            return runner.nightly(app, timestamp)

    return app


def defer_calls(app: App, store: Store, call_ids: list[int]) -> int:
    """One scoring job for each of these calls that has none waiting or running; returns how many."""
    live = queue_rows.live_calls(store)
    task = app.tasks[queue_rows.SCORE_TASK]
    n = 0
    for call_id in call_ids:
        if call_id in live:
            continue
        try:
            task.configure(queueing_lock=f"call-{call_id}").defer(call_id=call_id)
            n += 1
        except AlreadyEnqueued:  # another process deferred it a moment ago
            pass
    return n


def defer_pending(db: str, cfg: Config, store: Store) -> int:
    """Jobs for every queued or interrupted call that has none (a batch killed between queuing its
    calls and deferring their jobs; calls queued before this queue existed)."""
    app = make_app(db, cfg)
    with app.open():
        return defer_calls(app, store, worklist.pending(store))


class Runner:
    """A worker process's side of the tasks: one store, one Scorer, the call in hand."""

    def __init__(self, settings: workers.WorkerSettings, emit: workers.Emit, owner: str):
        from callaudit.analysis.pipeline import Scorer

        self.settings, self.emit, self.owner = settings, emit, owner
        self.store = open_store(settings.db, migrate=False)
        self.scorer = Scorer(settings.config, settings.rules)
        self.in_hand: tuple[worklist.Job, int] | None = None
        self.lock = threading.Lock()

    def score(self, call_id: int, job_id: int) -> str:
        st = self.settings.config.store
        job = worklist.take(self.store, call_id, self.owner, st.lease_seconds, st.max_attempts)  # Busy: later
        if job is None:
            return "nothing to do"  # scored or failed meanwhile: delivered twice, stored once
        with self.lock:
            self.in_hand = (job, job_id)
        self.emit({"event": "start", "owner": self.owner, "call": job.call_id, "file": job.path,
                   "attempt": job.attempts})
        try:
            workers.score_one(self.store, self.scorer, job, self.settings, self.owner, self.emit)
        except SQLAlchemyError:
            self._release(job)  # the database is away: the retry (with backoff) may take it at once
            raise
        finally:
            with self.lock:
                self.in_hand = None
        return "done"

    def _release(self, job: worklist.Job) -> None:
        try:
            worklist.release(self.store, job)
        except SQLAlchemyError:
            pass  # its lease lapses instead

    def hand_back(self) -> None:
        """Stopping (SIGTERM): the call in hand goes back to the queue at once, as on SQLite."""
        with self.lock:
            held, self.in_hand = self.in_hand, None
        if held is not None:
            self._release(held[0])
            queue_rows.retry_now(self.store, held[1])

    def nightly(self, app: App, timestamp: int) -> dict[str, Any]:
        """Queue the new recordings of [batch] folders (the periodic batch) and defer their jobs."""
        from callaudit.jobs.batch import enqueue
        from callaudit.jobs.runs import Tally, begin_run, finish_run
        from callaudit.sources import folders
        from callaudit.sources.metadata import MetadataReader

        cfg = self.settings.config
        paths = [p for p in cfg.batch.folders if Path(p).is_dir()]
        for p in cfg.batch.folders:
            if p not in paths:  # an unmounted share: said every night until mended, the others still run
                self.emit({"event": "waiting", "owner": self.owner,
                           "reason": f"[batch] folders: {p} is not a folder here; its recordings are not queued "
                                     f"(mount it, or mend [batch] folders)"})
        reader = MetadataReader(cfg, [Path(c) for c in cfg.batch.cdr])
        files = list(folders.find(paths, cfg.batch.extensions))
        reader.index_cdrs(files, folders.find_cdrs(paths))
        with self.store.session() as s:
            worklist.sync_roster(s, cfg.roster)
        run_id = begin_run(self.store, "schedule", {"paths": list(cfg.batch.folders), "timestamp": timestamp,
                                                    "schedule": cfg.batch.schedule, "worker": self.owner})
        enq = enqueue(self.store, files, reader, run_id=run_id, language=cfg.transcription.language,
                      min_age=cfg.batch.min_age_seconds)
        deferred = defer_calls(app, self.store, worklist.pending(self.store))
        summary = finish_run(self.store, run_id, enq, Tally())
        return {"run": run_id, "found": enq.found, "queued": len(enq.queued), "deferred": deferred,
                "failed": len(enq.failed), "db": summary.get("db")}


def _work(settings: workers.WorkerSettings, emit: workers.Emit, owner: str) -> None:
    """A worker process on PostgreSQL: the two procrastinate workers, until the pool stops it."""
    import signal

    runner = Runner(settings, emit, owner)
    app = make_app(settings.db, settings.config, runner)

    def stop(_signum=None, _frame=None) -> None:
        runner.hand_back()
        emit({"event": "exit", "owner": owner})
        _flush_and_exit(emit)

    signal.signal(signal.SIGTERM, stop)
    emit({"event": "ready", "owner": owner})
    st = settings.config.store
    options = dict(wait=True, install_signal_handlers=False, listen_notify=True, concurrency=1,
                   update_heartbeat_interval=st.heartbeat_seconds, stalled_worker_timeout=st.stalled_seconds,
                   fetch_job_polling_interval=st.poll_seconds, abort_job_polling_interval=max(st.poll_seconds, 5.0))

    async def keep(queue: str) -> None:
        """One procrastinate worker, started again when the database went away under it (a restart, a
        failover): its job in hand is put back by the stalled-job check once the database is back."""
        delay = 1.0
        while True:
            started = asyncio.get_running_loop().time()
            try:
                await app.run_worker_async(queues=[queue], name=f"{owner} {queue}", **options)
                reason = "stopped"
            except (psycopg.Error, OSError, ProcrastinateException) as e:
                reason = f"{e.__class__.__name__}: {e}"
            if asyncio.get_running_loop().time() - started > 60:
                delay = 1.0
            emit({"event": "waiting", "owner": owner, "reason": f"{queue} worker: {reason}; again in {delay:g} s"})
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)

    async def both() -> None:
        async with app.open_async():
            await asyncio.gather(keep(CALLS), keep(MAINTENANCE))

    asyncio.run(both())


def _flush_and_exit(emit: workers.Emit) -> None:
    queue = getattr(emit, "__self__", None)  # the pool's multiprocessing queue: its events must get out
    if queue is not None and hasattr(queue, "join_thread"):
        queue.close()
        queue.join_thread()
    sys.stderr.flush()
    os._exit(0)


def pg_child(settings: workers.WorkerSettings, events: Any, parent: int) -> None:
    workers.child_main(_work, settings, events, parent)


def run_pool(settings: workers.WorkerSettings, n: int, emit: workers.Emit) -> None:
    """`n` procrastinate worker processes on this machine (see workers.run_pool)."""
    workers.run_pool(settings, n, emit, child=pg_child)


def retry(db: str, cfg: Config, store: Store, job_ids: list[int]) -> list[int]:
    """Put these failed (or stuck) jobs back in the queue now; their failed calls are queued again."""
    from datetime import datetime, timezone

    app = make_app(db, cfg)
    done = []
    with app.open():
        for job_id in job_ids:
            call_id = queue_rows.call_of(store, job_id)
            if call_id is not None:
                queue_rows.requeue_failed(store, call_id)
            try:
                app.job_manager.retry_job_by_id(job_id, retry_at=datetime.now(timezone.utc))
            except (psycopg.Error, ProcrastinateException):
                continue  # not failed nor running: nothing to retry
            done.append(job_id)
    return done

"""The PostgreSQL queue (procrastinate, jobs/pgqueue.py) end to end: real `callaudit worker` processes on a
real PostgreSQL, the real Scorer (tiny.en). A worker SIGKILLed mid-call, the periodic batch run by two
workers, a database that refuses connections for a while."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time

import pytest
from clihelp import one_error_line
from sqlalchemy import func, select, text
from storehelp import CALLAUDIT, check_exactly_once, children, make_calls, scored_count, start, wait_for, write_config

from callaudit.store import db as store
from callaudit.store.schema import RUNNING, BatchRunRow, CallRow

pytestmark = pytest.mark.slow
HOST = socket.gethostname()


def owners(proc: subprocess.Popen) -> set[str]:
    """The worker processes of one `callaudit worker` (their host:pid is a call's lease owner)."""
    return {f"{HOST}:{pid}" for pid in children(proc.pid)}


def jobs_list(cfg, db: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([CALLAUDIT, "--config", str(cfg), "jobs", "list", "--db", db, *args],
                          capture_output=True, text=True, timeout=60)


def stop(proc: subprocess.Popen) -> tuple[bytes, bytes]:
    proc.send_signal(signal.SIGTERM)
    out = proc.communicate(timeout=60)
    assert proc.returncode == 130, out[1].decode()
    return out


def test_three_workers_one_killed_mid_call_its_job_is_retried_by_another(pg_url, tmp_path):
    rec = tmp_path / "rec"
    files = make_calls(rec, 30)
    cfg = write_config(tmp_path, lease_seconds=2.0)
    queued = subprocess.run([CALLAUDIT, "--config", str(cfg), "batch", str(rec), "--db", pg_url, "--workers", "0",
                             "--json"], capture_output=True, text=True, timeout=120)
    assert queued.returncode == 0, queued.stderr
    assert json.loads(queued.stdout)["queued"] == 30
    st = store.open_store(pg_url, migrate=False)
    with st.session() as s:  # one job per call, waiting
        assert s.scalar(text("SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'score_call' "
                             "AND status = 'todo'")) == 30
    victim, *others = [start(cfg, "worker", "--db", pg_url, "--json") for _ in range(3)]

    def in_victims_hands() -> tuple[int, int] | None:
        """(call, job) that the victim's worker is scoring now, its job in 'doing'."""
        mine = owners(victim)
        with st.session() as s:
            return s.execute(text(
                "SELECT c.id, j.id FROM calls c JOIN procrastinate_jobs j ON j.task_name = 'score_call' "
                "AND (j.args->>'call_id')::int = c.id WHERE c.status = :running AND j.status = 'doing' "
                "AND c.lease_owner = ANY(:mine)"), {"running": RUNNING, "mine": list(mine)}).first()

    # Kill the victim once the work is well under way and it is in the middle of a call.
    assert wait_for(lambda: scored_count(pg_url) >= 3 and in_victims_hands() is not None, 180)
    call_id, job_id = in_victims_hands()
    victim_owners = owners(victim)
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait()
    for w in others:  # they drain the queue, the dead worker's job included, and stop
        _, err = w.communicate(timeout=240)
        assert w.returncode == 0, err.decode()
    figures = check_exactly_once(pg_url, files)
    with st.session() as s:
        call = s.get(CallRow, call_id)
        assert call.attempts == 2 and call.current_score.worker not in victim_owners
        statuses = dict(s.execute(text("SELECT status::text, count(*) FROM procrastinate_jobs "
                                       "WHERE task_name = 'score_call' GROUP BY status")).all())
        events = s.scalars(text("SELECT type::text FROM procrastinate_events WHERE job_id = :id ORDER BY id"),
                           {"id": job_id}).all()
    st.close()
    assert statuses == {"succeeded": 30}
    assert len(figures["workers"]) >= 3 and sum(figures["workers"].values()) == 30
    # `jobs list` shows the retry: the killed worker's job, tried twice, done.
    listed = jobs_list(cfg, pg_url, "--retried", "--json")
    assert listed.returncode == 0, listed.stderr
    retried = {j["id"]: j for j in json.loads(listed.stdout)}
    assert job_id in retried and retried[job_id]["status"] == "succeeded" and retried[job_id]["retries"] >= 1
    assert len(retried) < 30 and all(j["retries"] >= 1 for j in retried.values())  # only the retried ones
    assert retried[job_id]["call_id"] == call_id
    shown = jobs_list(cfg, pg_url, "--retried")
    line = next(ln for ln in shown.stdout.splitlines() if ln.split()[0] == str(job_id))
    assert "succeeded" in line and call.path in line
    print(f"split {sorted(figures['workers'].values())}; job {job_id} (call {call_id}) retried: {line.strip()}; "
          f"its events: {events}")


def test_the_schedule_queues_a_new_nights_folder_once_with_two_workers_running_it(pg_url, tmp_path):
    night = tmp_path / "night"
    files = make_calls(night, 3)
    unmounted = tmp_path / "unmounted"  # a share not there tonight: said, and the other folder still runs
    cfg = write_config(tmp_path, batch={"schedule": "* * * * * */3", "folders": [str(night), str(unmounted)]})
    st = store.open_store(pg_url)  # the schema, before the workers race to create it

    def nightly() -> dict[str, int]:
        """Scheduled time -> its batch jobs that ran."""
        with st.session() as s:
            return dict(s.execute(text("SELECT args->>'timestamp', count(*) FROM procrastinate_jobs WHERE "
                                       "task_name = 'nightly_batch' AND status = 'succeeded' GROUP BY 1")).all())

    a, b = (start(cfg, "worker", "--db", pg_url, "--forever") for _ in range(2))
    assert wait_for(lambda: scored_count(pg_url) == 3, 180)
    files += make_calls(night, 2, first=3)  # the next night's recordings
    assert wait_for(lambda: scored_count(pg_url) == 5, 180)
    ran = nightly()
    assert wait_for(lambda: len(nightly()) >= len(ran) + 2, 30)  # two more scheduled times, with nothing new
    said = b"".join(out for p in (a, b) for out in stop(p)).decode()
    assert f"[batch] folders: {unmounted} is not a folder here" in said, said
    ran = nightly()
    assert ran and set(ran.values()) == {1}, ran  # each scheduled time ran once, not once per worker
    with st.session() as s:
        runs = s.scalars(select(BatchRunRow).where(BatchRunRow.kind == "schedule")).all()
        deferred = s.scalar(text("SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'score_call'"))
        assert s.scalar(select(func.count()).select_from(CallRow)) == 5
    assert len(runs) == len(ran) and sorted(r.options["timestamp"] for r in runs) == sorted(map(int, ran))
    assert deferred == 5  # each recording queued once
    st.close()
    check_exactly_once(pg_url, files)


def test_a_database_that_refuses_connections_for_a_while_is_ridden_out(pg_server, pg_url, tmp_path):
    """The database goes away mid-call (every connection cut, new ones refused), then comes back: the
    worker's failed save is retried once procrastinate can say so, nothing is lost or stored twice."""
    rec = tmp_path / "rec"
    files = make_calls(rec, 4)
    cfg = write_config(tmp_path, lease_seconds=2.0)
    name = pg_url.split("/")[3].split("?")[0]
    assert subprocess.run([CALLAUDIT, "--config", str(cfg), "batch", str(rec), "--db", pg_url, "--workers", "0"],
                          capture_output=True, timeout=120).returncode == 0
    st = store.open_store(pg_url, migrate=False)

    def held() -> bool:
        with st.session() as s:
            return s.scalar(select(func.count()).select_from(CallRow).where(CallRow.status == RUNNING)) > 0

    worker = start(cfg, "worker", "--db", pg_url)
    assert wait_for(lambda: scored_count(pg_url) >= 1 and held(), 120)
    st.engine.dispose()
    pg_server.admin(f"ALTER DATABASE {name} ALLOW_CONNECTIONS false")
    pg_server.admin(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")
    refused = subprocess.run([CALLAUDIT, "--config", str(cfg), "calls", "list", "--db", pg_url],
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0 and "not currently accepting connections" in refused.stderr  # it is down
    # The outage being simulated: 6 s, longer than the call in hand takes to finish (its save fails).
    time.sleep(6)
    pg_server.admin(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true")
    _, err = worker.communicate(timeout=240)
    assert worker.returncode == 0, err.decode()
    assert b"again in" in err  # the worker saw the database go and waited for it (with backoff)
    check_exactly_once(pg_url, files)
    with st.session() as s:
        moved = s.scalars(text("SELECT type::text FROM procrastinate_events e JOIN procrastinate_jobs j ON "
                               "j.id = e.job_id WHERE j.task_name = 'score_call'")).all()
    st.close()
    assert moved.count("succeeded") == 4 and moved.count("deferred_for_retry") >= 1, moved


def test_jobs_retry_puts_a_failed_job_and_its_call_back_and_sqlite_has_no_jobs(pg_url, tmp_path):
    rec = tmp_path / "rec"
    files = make_calls(rec, 2)
    cfg = write_config(tmp_path)
    assert subprocess.run([CALLAUDIT, "--config", str(cfg), "batch", str(rec), "--db", pg_url, "--workers", "0"],
                          capture_output=True, timeout=120).returncode == 0
    st = store.open_store(pg_url, migrate=False)
    with st.session() as s:  # a worker (procrastinate's own functions) that gave up on the first call's job
        worker_id = s.scalar(text("SELECT worker_id FROM procrastinate_register_worker_v1()"))
        job_id, call_id = s.execute(text("SELECT id, (args->>'call_id')::int FROM "
                                         "procrastinate_fetch_job_v2(ARRAY['calls'], :w)"), {"w": worker_id}).one()
        s.execute(text("SELECT procrastinate_finish_job_v1(:id, 'failed', false)"), {"id": job_id})
        s.execute(text("UPDATE calls SET status = 'failed', error = 'gave up' WHERE id = :id"), {"id": call_id})
    failed = json.loads(jobs_list(cfg, pg_url, "--status", "failed", "--json").stdout)
    assert [(j["id"], j["call_id"], j["error"]) for j in failed] == [(job_id, call_id, "gave up")]
    again = subprocess.run([CALLAUDIT, "--config", str(cfg), "jobs", "retry", "--failed", "999999", "--db", pg_url],
                           capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and "1 job(s) back in the queue; not failed nor running: [999999]" in again.stdout
    done = subprocess.run([CALLAUDIT, "--config", str(cfg), "worker", "--db", pg_url, "--json"],
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    check_exactly_once(pg_url, files)
    with st.session() as s:
        assert s.scalar(text("SELECT status::text FROM procrastinate_jobs WHERE id = :id"), {"id": job_id}) == "succeeded"
    st.close()
    # A SQLite store keeps no jobs: one line says so.
    sqlite = subprocess.run([CALLAUDIT, "--config", str(cfg), "jobs", "list", "--db", str(tmp_path / "c.db")],
                            capture_output=True, text=True, timeout=60)
    one_error_line(sqlite, "PostgreSQL queue")

"""End to end through the real Scorer (tiny.en): a batch killed at random points, a batch with broken files
in it, and a stopped worker. The PostgreSQL queue's workers (procrastinate) are tested in test_queue.py."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time

import pytest
from sqlalchemy import select, text
from storehelp import (
    CALLAUDIT,
    alive,
    check_exactly_once,
    children,
    make_calls,
    malformed_files,
    scored_count,
    start,
    wait_for,
    write_config,
)

from callaudit.store import db as store
from callaudit.store.schema import RUNNING, CallRow

pytestmark = pytest.mark.slow


def test_a_batch_killed_at_three_random_points_scores_every_call_exactly_once(db_url, tmp_path):
    seed = int(os.environ.get("CALLAUDIT_KILL_SEED", random.randrange(10**6)))
    rng = random.Random(seed)
    rec, db = tmp_path / "rec", db_url
    files = make_calls(rec, 20)
    cfg = write_config(tmp_path, lease_seconds=2.0)
    points = []
    for round_ in range(3):
        proc = start(cfg, "batch", str(rec), "--db", db, "--workers", "2")
        if round_ == 0:  # anywhere in start-up: queuing, spawning workers, loading the model, first call
            time.sleep(rng.uniform(0.3, 4.0))
        else:  # in the middle of the scoring, at a random moment
            target = scored_count(db) + rng.randint(1, 3)
            wait_for(lambda: scored_count(db) >= target, 90)
            time.sleep(rng.uniform(0.0, 1.5))
        points.append(scored_count(db))
        kids = children(proc.pid)
        if round_ == 2:
            proc.send_signal(signal.SIGKILL)  # the batch alone: its workers must not outlive it
        else:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        assert wait_for(lambda: not any(alive(k) for k in kids), 10), "a worker outlived its batch"
    assert points[-1] < 20, f"the batch finished before the last kill (seed {seed}); kills at {points}"
    done = subprocess.run([CALLAUDIT, "--config", str(cfg), "batch", str(rec), "--db", db, "--workers", "2",
                           "--json"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["failed"] == 0 and summary["pending"] == 0
    figures = check_exactly_once(db, files)
    print(f"seed {seed}: killed with {points} calls scored; re-run scored {summary['scored']} "
          f"(skipped {summary['skipped']} already scored); most claims of one call: {figures['max_attempts']}")


def test_broken_files_are_reported_with_their_reason_and_the_rest_is_scored(db_url, tmp_path):
    rec = tmp_path / "rec"
    good = make_calls(rec, 3)
    good.append(rec / "звонок агенту 1040 — ок.wav")
    good[-1].write_bytes(good[0].read_bytes()[:-2] + b"\x02\x00")  # good audio, unicode name, its own sha256
    broken = malformed_files(rec / "broken", good[0])
    assert len(broken) == 20
    cfg = write_config(tmp_path)
    done = subprocess.run([CALLAUDIT, "--config", str(cfg), "batch", str(rec), "--db", db_url, "--json"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1  # some files failed: a cron job should notice
    summary = json.loads(done.stdout)
    reasons = {f["file"]: f["reason"] for f in summary["failures"]}
    for path, fragment in broken.items():
        shown = os.fsencode(path).decode("utf-8", "backslashreplace")
        assert shown in reasons, f"{shown} not reported"
        assert fragment in reasons[shown], (shown, reasons[shown])
    assert summary["scored"] == len(good) and summary["failed"] == 20
    by_file = {c["file"]: c for c in summary["calls"]}
    assert all(by_file[str(p)]["status"] == "scored" for p in good)
    # The human summary names each broken file and its reason too.
    text_out = subprocess.run([CALLAUDIT, "--config", str(cfg), "batch", str(rec), "--db", db_url,
                               "--retry-failed"], capture_output=True, text=True, timeout=300)
    assert text_out.returncode == 1 and "skipped      4  already scored: 4" in text_out.stdout
    for path in broken:
        assert os.fsencode(path).decode("utf-8", "backslashreplace") in text_out.stdout


def test_a_stopped_worker_hands_its_call_back_at_once(db_url, tmp_path):
    rec, db = tmp_path / "rec", db_url
    make_calls(rec, 2)
    cfg = write_config(tmp_path, lease_seconds=600.0)  # a lapse would take ten minutes: the hand-back must not wait
    assert subprocess.run([CALLAUDIT, "--config", str(cfg), "batch", str(rec), "--db", db, "--workers", "0"],
                          capture_output=True, timeout=120).returncode == 0
    proc = start(cfg, "worker", "--db", db)
    st = store.open_store(db, migrate=False)

    def held() -> int | None:
        with st.session() as s:
            return s.scalar(select(CallRow.id).where(CallRow.status == RUNNING))

    assert wait_for(lambda: held() is not None, 120)
    proc.send_signal(signal.SIGTERM)  # what `systemctl stop` sends
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and b"went back to the queue" in err
    with st.session() as s:
        calls = s.scalars(select(CallRow)).all()
        assert {c.status for c in calls} <= {"queued", "scored"} and all(c.lease_token is None for c in calls)
        assert all(c.attempts in (0, 1) for c in calls)
        if st.dialect == "postgresql":  # and its procrastinate job waits again, for the next worker
            jobs = dict(s.execute(text("SELECT (args->>'call_id')::int, status::text FROM procrastinate_jobs")).all())
            assert {jobs[c.id] for c in calls if c.status == "queued"} == {"todo"}
    st.close()

"""Unannounced spot checks: agents picked at random (least recently checked first), several live calls
recorded at once from a real SIP peer, each scored and audited."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from datetime import datetime, timedelta, timezone

import pytest
from sip_peer import CALLAUDIT, ROOT, SLIP, Sipp, build_stream, cli_env, gaps, read_pcm, rows, run_cli, write_config

from callaudit.sources.spotcheck import pick_order

SALES = [(f"10{i:02d}", f"Agent {i}", "sales") for i in range(1, 9)] + [("1901", "Idle One", "sales"),
                                                                         ("1902", "Idle Two", "sales")]


def test_least_recently_checked_come_first():
    now = datetime(2026, 11, 29, tzinfo=timezone.utc)
    agents = [{"extension": e} for e in ("fresh", "week", "never")]
    last = {"fresh": now - timedelta(hours=1), "week": now - timedelta(days=7)}
    rng = random.Random(7)
    firsts = [pick_order(agents, last, rng, now)[0]["extension"] for _ in range(2000)]
    assert firsts.count("never") > firsts.count("week") > 10 * firsts.count("fresh")
    assert sorted(a["extension"] for a in pick_order(agents, last, rng, now)) == ["fresh", "never", "week"]


@pytest.mark.slow
@pytest.mark.skipif(os.system("command -v sipp >/dev/null") != 0, reason="sipp not installed")
def test_spot_check_records_eight_live_calls_at_once(tmp_path):
    ref, ulaw, seconds, _ = build_stream(tmp_path)
    with Sipp("spy.xml", tmp_path, "-key", "stream", f"{ulaw},1,0", "-d", str(int(seconds * 1000)),
              calls=50) as pbx:
        cfg = write_config(tmp_path, pbx.port, agents=SALES + [("2001", "Other Dept", "support")])
        proc = run_cli(cfg, "spot-check", "--count", "8", "--department", "sales", "--duration", "8", "--json",
                       timeout=200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    sessions = json.loads(proc.stdout)
    done = [s for s in sessions if s["result"] == "completed"]
    assert len(done) == 8 and {s["extension"] for s in done} == {e for e, _, _ in SALES[:8]}
    assert all(s["result"] == "no-call" for s in sessions if s["extension"].startswith("19"))
    assert "2001" not in {s["extension"] for s in sessions}
    # The eight ran at the same time.
    starts = sorted(datetime.fromisoformat(s["started_at"]) for s in done)
    assert (starts[-1] - starts[0]).total_seconds() < 3
    want = read_pcm(ref)
    for s in done:
        assert s["ended_by"] == "duration" and s["verdict"]["call"]["sha256"] == s["sha256"]
        got = read_pcm(s["recording"])
        assert abs(len(got) / 8000 - 8.0) < 0.3
        # The voiced 20 ms frames of the stream are in the recording, in order: nothing is lost beyond
        # single-frame jitter-buffer slips (a packet that came late while eight calls shared 2 cores).
        missing = gaps(want[:len(got)], got)
        assert max(missing, default=0) <= SLIP and sum(missing) <= 0.03 * 280, (s["extension"], missing, s)
        assert s["rtp_lost"] == 0 and s["rtp_packets"] > 380
    results = {r: (n, c) for r, n, c in rows(tmp_path / "callaudit.db", "select result, count(*), count(call_id) "
                                                                        "from listen_sessions group by result")}
    assert results["completed"] == (8, 8) and "in progress" not in results  # each begun row was completed


@pytest.mark.skipif(os.system("command -v sipp >/dev/null") != 0, reason="sipp not installed")
def test_a_killed_spot_check_leaves_each_listen_in_on_record(tmp_path):
    # Unannounced listen-ins must stay on record whatever ends the job: here SIGKILL to all of it, mid-call.
    _, ulaw, seconds, _ = build_stream(tmp_path)
    with Sipp("spy.xml", tmp_path, "-key", "stream", f"{ulaw},1,0", "-d", str(int(seconds * 1000)),
              calls=10) as pbx:
        cfg = write_config(tmp_path, pbx.port, agents=SALES[:2])
        job = subprocess.Popen(CALLAUDIT + ["spot-check", "--count", "2"], cwd=ROOT, env=cli_env(cfg),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 60
        while sum(f.stat().st_size > 2 * 16000 for f in (tmp_path / "recordings").glob("*.wav")) < 2:
            assert job.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        os.killpg(job.pid, signal.SIGKILL)
        job.wait()
    assert rows(tmp_path / "callaudit.db", "select extension, mode, result, ended_at from listen_sessions "
                                           "order by extension") == [(e, "listen", "in progress", None) for e, _, _ in SALES[:2]]

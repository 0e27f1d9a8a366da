"""The workspace's server time with many calls stored: the review queue and a call page.

    .venv/bin/python bench/web.py [--calls 10000] [--db URL] [--rounds 20]

Scores one real call (recorded speech, tiny.en) with the real Scorer, stores it, then copies it into
`--calls` calls in all (different recordings' hashes, 40 agents in 4 departments, 90 days, about half
flagged, a fifth of them reviewed) with bulk inserts; starts a real `callaudit serve` on it, logs in as an
hr account, and requests each page `--rounds` times. It prints the median and the 95th percentile of the
server's own time (the Server-Timing header: routing, queries, template, commit) and of the time a client
on the same machine waited. Goal: the queue and a call page within 300 ms with 10 000 calls.
A benchmark, not a test: it prints figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from datetime import datetime, timedelta, timezone
from http.cookiejar import CookieJar
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PASSWORD = "bench-hr-Pa55word"


def score_one(folder: Path, config: Path):
    from callaudit import config as config_mod
    from callaudit.analysis.pipeline import Scorer
    from callaudit.sources.samples import BAD_CALL, build

    path = folder / "bad-20261112-093000-1041-79001234567-1762939800.1.wav"
    build(path, BAD_CALL, "en", seed=1)
    return Scorer(config_mod.load(config)).score_file(path, "en", "1041")


def fill(db: str, config: Path, n: int, folder: Path) -> str:
    """Store one real scored call and n - 1 copies; returns the public id of a flagged one."""
    from sqlalchemy import insert, select

    from callaudit.store import accounts
    from callaudit.store.db import open_store
    from callaudit.store.schema import AgentRow, CallRow, FindingRow, ReviewRow, ScoreRow, TurnRow, WordRow
    from callaudit.store.verdicts import save_result

    st = open_store(db)
    call_id = save_result(st, score_one(folder, config))
    rng = random.Random(7)
    now = datetime.now(timezone.utc)
    with st.session() as s:
        hr = accounts.add_user(s, "Bench HR", "hr", PASSWORD)
        agents = []
        for i in range(40):
            ext = str(2000 + i)
            s.add(AgentRow(extension=ext, name=f"Agent {i}", department=f"Dept {i % 4}"))
            agents.append(ext)
        s.flush()
        agent_ids = dict(s.execute(select(AgentRow.extension, AgentRow.id)).all())
        call = s.get(CallRow, call_id)
        score = call.current_score
        findings = [{c: getattr(f, c) for c in ("position", "rule", "title", "severity", "status", "passed", "at",
                                                "detail", "evidence")} for f in score.findings]
        turns = [({c: getattr(t, c) for c in ("position", "speaker", "start", "end", "text", "loudness_db")},
                  [{c: getattr(w, c) for c in ("position", "start", "end", "text", "probability")} for w in t.words])
                 for t in score.turns]
        base = {c: getattr(score, c) for c in ("rules_version", "rules_file", "model_name", "model", "language",
                                                "duration", "verdict", "flag_reasons")}
        hr_id, hr_name = hr.id, hr.name
    ids_seen = 0
    batch = 1000
    for first in range(1, n, batch):
        count = min(batch, n - first)
        with st.session() as s:
            conn = s.connection()
            calls, scores = [], []
            for i in range(first, first + count):
                ext = rng.choice(agents)
                calls.append({"sha256": f"{i:016x}" + os.urandom(24).hex(), "path": str(folder / f"copy-{i}.wav"),
                              "status": "scored", "extension": ext, "agent_id": agent_ids[ext],
                              "started_at": now - timedelta(minutes=rng.randrange(90 * 24 * 60)),
                              "queued_at": now, "attempts": 0, "meta": {}, "duration": base["duration"],
                              "channels": "stereo"})
            start_id = conn.execute(select(CallRow.id).order_by(CallRow.id.desc()).limit(1)).scalar() + 1
            conn.execute(insert(CallRow), calls)
            new_ids = list(range(start_id, start_id + count))
            for cid in new_ids:
                flagged = rng.random() < 0.5
                scores.append({**base, "call_id": cid, "is_current": True, "score": 60.0 if flagged else 95.0,
                               "flagged": flagged, "scored_at": now, "worker": "bench"})
            sid0 = conn.execute(select(ScoreRow.id).order_by(ScoreRow.id.desc()).limit(1)).scalar() + 1
            conn.execute(insert(ScoreRow), scores)
            sids = list(range(sid0, sid0 + count))
            conn.execute(insert(FindingRow), [{**f, "score_id": sid} for sid in sids for f in findings])
            tid = conn.execute(select(TurnRow.id).order_by(TurnRow.id.desc()).limit(1)).scalar() + 1
            turn_rows, word_rows = [], []
            for sid in sids:
                for t, words in turns:
                    turn_rows.append({**t, "score_id": sid})
                    word_rows += [{**w, "turn_id": tid} for w in words]
                    tid += 1
            conn.execute(insert(TurnRow), turn_rows)
            conn.execute(insert(WordRow), word_rows)
            reviewed = [(c, s_) for c, s_ in zip(new_ids, sids) if rng.random() < 0.2]
            if reviewed:
                conn.execute(insert(ReviewRow), [{"call_id": c, "score_id": s_, "reviewer": hr_name, "user_id": hr_id,
                                                  "decision": rng.choice(["confirmed", "dismissed"]), "comment": "b",
                                                  "created_at": now} for c, s_ in reviewed])
            ids_seen += count
        print(f"  stored {first + count} calls", file=sys.stderr)
    with st.session() as s:
        public = s.scalars(select(CallRow.sha256).where(CallRow.id == call_id)).one()[:16]
    st.close()
    return public


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=10000)
    ap.add_argument("--db", help="a postgresql:// URL (default: a fresh SQLite file)")
    ap.add_argument("--rounds", type=int, default=20)
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="callaudit-bench-web-"))
    config = folder / "callaudit.toml"
    config.write_text(f'[model]\nname = "tiny.en"\ndir = "{ROOT / "models"}"\nthreads = 2\n[transcription]\n'
                      f'language = "en"\n[web]\nlanguage = "en"\nsecret_key = "{os.urandom(16).hex()}"\n')
    db = args.db or str(folder / "calls.db")
    began = time.perf_counter()
    public = fill(db, config, args.calls, folder)
    print(f"store: {args.calls} calls in {time.perf_counter() - began:.0f} s ({'postgresql' if args.db else 'sqlite'})")

    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "callaudit.cli", "--config", str(config), "serve", "--port",
                               str(port), "--db", db], cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        jar = CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        html = opener.open(base + "/login").read().decode()
        nonce = re.search(r'name="csrf" value="([^"]+)"', html).group(1)
        form = urllib.parse.urlencode({"csrf": nonce, "name": "Bench HR", "password": PASSWORD, "next": "/"}).encode()
        opener.open(base + "/login", form).read()
        pages = {"queue (flagged, page 1)": "/", "queue filtered (rule + state + period)":
                 "/?rule=greeting&state=unreviewed&period=last-30d", "queue, all calls, page 40": "/?show=all&page=40",
                 "call page": f"/calls/{public}"}
        print(f"{'page':42} {'server median':>14} {'server p95':>11} {'client median':>14}")
        for name, path in pages.items():
            server_ms, client_ms = [], []
            for i in range(args.rounds + 2):
                t0 = time.perf_counter()
                r = opener.open(base + path)
                body = r.read()
                wall = (time.perf_counter() - t0) * 1000
                assert r.status == 200 and b"Log out" in body, (path, r.status)
                if i >= 2:  # the first two warm the caches (templates, the connection pool)
                    server_ms.append(float(r.headers["server-timing"].split("dur=")[1]))
                    client_ms.append(wall)
            p95 = sorted(server_ms)[max(0, int(len(server_ms) * 0.95) - 1)]
            print(f"{name:42} {statistics.median(server_ms):11.1f} ms {p95:8.1f} ms {statistics.median(client_ms):11.1f} ms")
        print(json.dumps({"calls": args.calls, "backend": "postgresql" if args.db else "sqlite"}))
    finally:
        server.terminate()
        server.wait(timeout=20)


if __name__ == "__main__":
    main()

"""HR reports over a month of a real call centre: today's code and another revision's (main), side by side.

    nice -n 10 .venv/bin/python bench/reports.py [--sizes 10000,100000] [--backends sqlite,postgresql]
                                                 [--old main] [--old-timeout 300] [--dir DIR]

Scores the sample calls once with the base model (real recorded speech, ru and en, a good and a bad
call each; HR decisions added on them: a dismissal, a confirmation, an appeal, a whole-call dismissal),
then builds a store of N calls from them on SQLite and on PostgreSQL (a server of its own, started
with initdb/pg_ctl in a temporary folder as the tests do): copies with new hashes, 1 agent per 2 000
calls in four departments, dated over November 2026 in office hours, their findings, transcripts and
words copied row for row by INSERT … SELECT (callaudit/store/copies.py), and 1 copy in 20 with the
decisions of its original. The calls the flagged HTML report details get recordings of their own (a
copy of the original file that differs in one sample), so that its clips are cut from real audio.

Each command then runs in its own process, on a store at the schema each revision knows (the other
revision's code is `git archive`d into DIR and run with PYTHONPATH): wall seconds, CPU seconds
(user + system of the child: other work on the machine inflates wall times, not these) and peak RSS
(the child's VmHWM, read by the child itself as it exits). An old command that runs past --old-timeout is stopped (the others of its
size are then skipped: they share its cost); its memory is capped at 6 GB.
A benchmark, not a test: it prints figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"
PERIOD = "2026-11"
OLD_MEMORY = 6 << 30
BASE_REVISION = "0003"  # main's newest, the schema both revisions know: the stores are built at it


# ---------------------------------------------------------------- the seed: real scored calls
def seed_store(folder: Path, model_dir: Path) -> Path:
    """The sample calls scored by `callaudit batch` (base model) with a few HR decisions; kept in `folder`."""
    db = folder / "seed.db"
    if db.exists():
        _to_base_revision(db)
        return db
    from callaudit.sources.samples import build_samples

    calls = folder / "calls"
    calls.mkdir(parents=True, exist_ok=True)
    (folder / "building.db").unlink(missing_ok=True)  # a seed an interrupted run left half made
    for path in build_samples(calls):
        lang = "ru" if path.name.startswith("ru-") else "en"
        Path(str(path) + ".json").write_text(json.dumps({"language": lang}))
    cfg = folder / "callaudit.toml"
    cfg.write_text(f'[model]\nname = "base"\ndir = "{model_dir}"\nthreads = 2\n[store]\ndb = "{folder / "building.db"}"\n')

    def cli(*args: str, stdin: str | None = None) -> str:
        return subprocess.run([str(PYTHON), "-m", "callaudit.cli", "--config", str(cfg), *args], check=True,
                              capture_output=True, text=True, input=stdin).stdout

    print("bench/reports.py: scoring the sample calls with the base model (once; kept in --dir)", flush=True)
    cli("batch", str(calls))
    listing = json.loads(cli("calls", "list", "--json"))
    listed = {Path(c["file"]).name.split("-20")[0]: c["id"] for c in listing}
    extension = {Path(c["file"]).name.split("-20")[0]: Path(c["file"]).name.split("-")[4] for c in listing}
    hr, agent = "olga-hr-Pa55word\n", "agent-Pa55word\n"
    cli("users", "add", "Olga HR", "--role", "hr", "--password-stdin", stdin=hr)
    cli("users", "add", "Bench Agent", "--role", "agent", "--extension", extension["en-bad"], "--password-stdin",
        stdin=agent)
    cli("review", listed["en-bad"], "--finding", "interruptions", "--dismiss", "--as", "Olga HR", "--note", "a pause",
        stdin=hr)
    cli("review", listed["en-bad"], "--finding", "closing", "--confirm", "--as", "Olga HR", "--note", "heard",
        stdin=hr)
    cli("appeal", listed["en-bad"], "--as", "Bench Agent", "--note", "the line was bad", stdin=agent)
    cli("review", listed["ru-bad"], "--dismiss", "--as", "Olga HR", "--note", "a test line", stdin=hr)
    _to_base_revision(folder / "building.db")
    (folder / "building.db").rename(db)
    return db


def _to_base_revision(db: Path) -> None:
    """Both revisions read a store at BASE_REVISION (main's newest): the new one's `db upgrade` adds 0005,
    measured. A seed kept from an earlier run is brought up (or down) to it."""
    from alembic import command

    from callaudit.store import db as store

    st = store.connect(store.resolve_url(str(db)))
    current, _ = store.revisions(st)
    if current != BASE_REVISION:
        with st.engine.connect() as conn:
            move = command.downgrade if current == "0005" else command.upgrade
            move(store._alembic_config(conn), BASE_REVISION)
            conn.commit()
    st.close()


# ---------------------------------------------------------------- PostgreSQL
@dataclass
class Pg:
    root: Path
    port: int
    bindir: Path
    as_user: list[str]

    def url(self, name: str) -> str:
        return f"postgresql://postgres@/{name}?host={self.root}&port={self.port}"

    def admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(host=str(self.root), port=self.port, user="postgres", dbname="postgres",
                             autocommit=True) as conn:
            conn.execute(sql)

    def stop(self) -> None:
        subprocess.run(self.as_user + [str(self.bindir / "pg_ctl"), "-D", str(self.root / "data"), "-m", "fast",
                                       "-w", "stop"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(self.root, ignore_errors=True)


def start_pg() -> Pg:
    """A server of our own (as tests/store/conftest.py's pg_server starts one)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parts[-3]))
    if not found:
        sys.exit("bench/reports.py: PostgreSQL is not installed (Debian package postgresql)")
    bindir = found[-1].parent
    root = Path(tempfile.mkdtemp(prefix="callaudit-bench-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    run = lambda *a: subprocess.run(as_user + list(a), check=True, stdout=subprocess.DEVNULL)  # noqa: E731
    run(str(bindir / "initdb"), "-D", str(root / "data"), "-U", "postgres", "--auth=trust", "-E", "UTF8",
        "--locale=C", "--no-sync")
    run(str(bindir / "pg_ctl"), "-D", str(root / "data"), "-l", str(root / "server.log"), "-w", "-o",
        f"-p {port} -k {root} -c listen_addresses='' -c fsync=off -c synchronous_commit=off", "start")
    return Pg(root, port, bindir, as_user)


# ---------------------------------------------------------------- building stores
def _load_seed(seed: Path, url: str) -> None:
    """A fresh PostgreSQL database at BASE_REVISION (the schema both revisions know) holding the seed's rows."""
    from alembic import command
    from sqlalchemy import create_engine, select, text

    from callaudit.store import db as store
    from callaudit.store.schema import Base

    st = store.connect(store.resolve_url(url))
    with st.engine.connect() as conn:
        command.upgrade(store._alembic_config(conn), BASE_REVISION)
    src = create_engine(f"sqlite:///{seed}")
    with src.connect() as s, st.engine.begin() as d:
        for table in Base.metadata.sorted_tables:
            rows = [dict(r._mapping) for r in s.execute(select(table).order_by(*table.primary_key.columns))]
            if rows:
                d.execute(table.insert(), rows)
        for table in (t for t in Base.metadata.sorted_tables if "id" in t.c):  # request_status: a public id
            d.execute(text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                           f"(SELECT coalesce(max(id), 1) FROM {table.name}))"))
    src.dispose()
    st.close()


def build(backend: str, n: int, seed: Path, work: Path, pg: Pg | None) -> str:
    """The base store of `n` calls at BASE_REVISION; returns its URL (or path)."""
    from callaudit.store import db as store
    from callaudit.store.copies import copy_calls

    seeds = 4
    if backend == "sqlite":
        url = str(work / f"base-{n}.db")
        if Path(url).exists():
            return url
        shutil.copy(seed, url + ".part")
        target = url + ".part"
    else:
        pg.admin(f"DROP DATABASE IF EXISTS base_{n}")
        pg.admin(f"CREATE DATABASE base_{n}")
        url = target = pg.url(f"base_{n}")
        _load_seed(seed, url)
    t = time.monotonic()
    st = store.connect(store.resolve_url(target))
    total = copy_calls(st, n // seeds - 1, agents=max(5, n // 2000))
    st.close()
    if backend == "sqlite":
        os.rename(target, url)
    print(f"  built {backend} store of {total} calls in {time.monotonic() - t:.0f} s", flush=True)
    return url


def clone(backend: str, base: str, n: int, name: str, pg: Pg | None) -> str:
    """A copy of the base store of `n` calls, named `name`."""
    if backend == "sqlite":
        path = str(Path(base).with_name(f"{name}.db"))
        for suffix in ("", "-wal", "-shm"):
            Path(path + suffix).unlink(missing_ok=True)
        shutil.copy(base, path)
        return path
    pg.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    pg.admin(f"CREATE DATABASE {name} TEMPLATE base_{n}")
    return pg.url(name)


def give_recordings(urls: list[str], n_details: int, folder: Path) -> int:
    """The calls the flagged HTML report details get files of their own (one sample differs), in every
    store given (the same ids in each)."""
    from sqlalchemy import text

    from callaudit import periods
    from callaudit.digest import sha256_of
    from callaudit.store import db as store
    from callaudit.store import hrqueries

    folder.mkdir(parents=True, exist_ok=True)
    first = store.connect(store.resolve_url(urls[0]))
    with first.session() as s:
        rows = list(hrqueries.report_calls(s, hrqueries.Scope(periods.parse(PERIOD)), flagged=True, worst_first=True,
                                           limit=n_details))
    first.close()
    changes = []
    for r in rows:
        body = bytearray(Path(r.path).read_bytes())
        body[-4:] = r.id.to_bytes(4, "little")  # the last two samples: inaudible, and a hash of its own
        path = folder / f"call-{r.id}.wav"
        path.write_bytes(body)
        changes.append({"id": r.id, "sha": sha256_of(path), "path": str(path)})
    for url in urls:
        st = store.connect(store.resolve_url(url))
        with st.engine.begin() as conn:
            conn.execute(text("UPDATE calls SET sha256 = :sha, path = :path WHERE id = :id"), changes)
        st.close()
    return len(changes)


# ---------------------------------------------------------------- measuring
def measure(cmd: list[str], env: dict, timeout: float | None, memory: int | None) -> tuple[str, float, float, int]:
    """Run `cmd` in its own process: (outcome, wall s, CPU s, peak RSS bytes)."""
    def limit() -> None:
        if memory:
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    peak_file = Path(tempfile.mkstemp(prefix="callaudit-bench-peak-")[1])
    if cmd[1:3] == ["-m", "callaudit.cli"]:
        cmd = [cmd[0], "-c", PEAK_WRAPPER, *cmd[3:]]
    start = time.monotonic()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, env={**env, "BENCH_PEAK": str(peak_file)}, stdout=subprocess.DEVNULL,
                                stderr=err, preexec_fn=limit)
        killed = threading.Event()
        timer = threading.Timer(timeout, lambda: (killed.set(), proc.send_signal(signal.SIGKILL))) if timeout else None
        if timer:
            timer.start()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - start
        if timer:
            timer.cancel()
        err.seek(0)
        tail = err.read().decode(errors="replace").strip().splitlines()[-1:] or [""]
    outcome = "ok"
    if killed.is_set():
        outcome = f"> {timeout:.0f} s"
    elif proc.returncode != 0:
        outcome = "out of memory" if "MemoryError" in tail[0] else f"failed: {tail[0][:60]}"
    peak = peak_file.read_text().strip()
    peak_file.unlink()
    rss = int(peak) * 1024 if peak else usage.ru_maxrss * 1024
    return outcome, wall, usage.ru_utime + usage.ru_stime, rss


# The command's own peak (VmHWM of its address space after exec). The child's ru_maxrss would not do: Linux
# carries over the high-water mark of the forked copy of this process, which holds the store builder's
# SQLite page cache, so every command would read as large as this process.
PEAK_WRAPPER = """import atexit, os, runpy, sys
def _peak():
    with open("/proc/self/status") as status:
        kb = next((line.split()[1] for line in status if line.startswith("VmHWM:")), "")
    with open(os.environ["BENCH_PEAK"], "w") as out:
        out.write(kb)
atexit.register(_peak)
sys.argv[0] = "callaudit"
runpy.run_module("callaudit.cli", run_name="__main__", alter_sys=True)
"""


def commands(db: str, out: Path) -> list[tuple[str, list[str]]]:
    r = ["-m", "callaudit.cli", "report", "--db", db, "--period", PERIOD]
    return [
        ("report --format csv", r + ["--format", "csv", "-o", str(out / "all.csv")]),
        ("report --format json", r + ["--format", "json", "-o", str(out / "all.json")]),
        ("report --format csv --flagged", r + ["--format", "csv", "--flagged", "-o", str(out / "flagged.csv")]),
        ("report --format json --flagged", r + ["--format", "json", "--flagged", "-o", str(out / "flagged.json")]),
        ("report --format html --flagged", r + ["--format", "html", "--flagged", "-o", str(out / "flagged.html")]),
        ("report --agent 2001 --format pdf", r + ["--agent", "2001", "--format", "pdf", "-o", str(out / "agent.pdf")]),
        ("report --agent 2001 --format html", r + ["--agent", "2001", "--format", "html", "-o", str(out / "agent.html")]),
        ("calls list --json", ["-m", "callaudit.cli", "calls", "list", "--db", db, "--json"]),
        ("calls list --flagged --limit 1000", ["-m", "callaudit.cli", "calls", "list", "--db", db, "--flagged",
                                               "--limit", "1000", "--json"]),
    ]


def fmt(outcome: str, wall: float, cpu: float, rss: int) -> str:
    if outcome != "ok":
        return f"{outcome:>24}"
    return f"{wall:7.2f} s ({cpu:6.2f} cpu) {rss / 2**20:5.0f} MB"


def old_code(ref: str, folder: Path) -> Path:
    dest = folder / f"old-{ref.replace('/', '_')}"
    if not dest.exists():
        dest.mkdir(parents=True)
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000", help="calls per store (default 10000,100000)")
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--old", default="main", help="the revision to compare with (default main); '' = none")
    ap.add_argument("--old-timeout", type=float, default=300.0, help="stop an old command after this long")
    ap.add_argument("--dir", default="/tmp/callaudit-bench-reports", help="seed, stores and outputs (kept)")
    ap.add_argument("--model-dir", default=str(ROOT / "models"), help="where the base model is")
    args = ap.parse_args()
    work = Path(args.dir)
    work.mkdir(parents=True, exist_ok=True)
    seed = seed_store(work / "seed", Path(args.model_dir))
    old = old_code(args.old, work) if args.old else None
    env_new = {**os.environ, "PYTHONPATH": str(ROOT)}
    env_old = {**os.environ, "PYTHONPATH": str(old)} if old else None
    backends = args.backends.split(",")
    pg = start_pg() if "postgresql" in backends else None
    print(f"bench/reports.py: 4 scored sample calls (56 s, 8 turns, 60 words, 32 findings of which 16 failed) "
          f"copied into stores of {args.sizes} calls; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; "
          f"old = {args.old or '-'} (git archive), new = this working tree", flush=True)
    try:
        for backend in backends:
            for n in (int(x) for x in args.sizes.split(",")):
                base = build(backend, n, seed, work, pg)
                stores = {"new": clone(backend, base, n, f"new_{n}", pg)}
                if old:
                    stores["old"] = clone(backend, base, n, f"old_{n}", pg)
                given = give_recordings(list(stores.values()), 50, work / f"recordings-{n}")
                outcome, wall, cpu, rss = measure([str(PYTHON), "-m", "callaudit.cli", "db", "upgrade", "--db",
                                                   stores["new"]], env_new, None, None)
                print(f"\n{backend}, {n} calls ({given} detailed calls given recordings); new: db upgrade to "
                      f"0005 (indexes) {fmt(outcome, wall, cpu, rss)}", flush=True)
                print(f"  {'command':36} {'old (' + (args.old or '-') + ')':>34}   {'new':>34}")
                out = {k: work / f"out-{backend}-{n}-{k}" for k in stores}
                for o in out.values():
                    o.mkdir(exist_ok=True)
                old_stopped = None
                for (label, cmd_new), (_, cmd_old) in zip(commands(stores["new"], out["new"]),
                                                         commands(stores.get("old", ""), out.get("old", work))):
                    new = measure([str(PYTHON), *cmd_new], env_new, None, None)
                    if not old:
                        shown = "-"
                    elif old_stopped and label.startswith("report"):
                        shown = f"skipped ({old_stopped})"
                    else:
                        res = measure([str(PYTHON), *cmd_old], env_old, args.old_timeout, OLD_MEMORY)
                        shown = fmt(*res)
                        if res[0] != "ok" and label.startswith("report"):
                            old_stopped = res[0]
                    print(f"  {label:36} {shown:>34}   {fmt(*new):>34}", flush=True)
    finally:
        if pg:
            pg.stop()
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f} (wall times include waiting for the CPU; "
          "CPU seconds do not)")


if __name__ == "__main__":
    main()

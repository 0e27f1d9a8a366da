"""Fixtures of the store suite: a real PostgreSQL server for the session, a fresh database per test on
each backend, generated short calls, and a config that uses the small tiny.en model."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from storehelp import make_calls, write_config

from callaudit import config


def _pg_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parts[-3]))
    return found[-1].parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PgServer:
    root: Path
    port: int

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@/{database}?host={self.root}&port={self.port}"

    def admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(host=str(self.root), port=self.port, user="postgres", dbname="postgres",
                             autocommit=True) as conn:
            conn.execute(sql)


@pytest.fixture(scope="session")
def pg_server():
    """A PostgreSQL server of our own: initdb into a temporary folder, started on a free port with its
    socket in that folder, as user postgres when we are root (postgres refuses to run as root)."""
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip("PostgreSQL server not installed: `make test` installs the Debian package postgresql")
    root = Path(tempfile.mkdtemp(prefix="callaudit-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    data, log, port = root / "data", root / "server.log", _free_port()

    def run(*args: str) -> None:
        subprocess.run(as_user + list(args), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       timeout=120)

    run(str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C",
        "--no-sync")
    opts = (f"-p {port} -k {root} -c listen_addresses='' -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off -c max_connections=100")
    try:
        run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60", "-o", opts, "start")
    except subprocess.CalledProcessError:
        raise RuntimeError(f"PostgreSQL did not start:\n{log.read_text() if log.exists() else ''}") from None
    try:
        yield PgServer(root, port)
    finally:
        subprocess.run(as_user + [str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> str:
    """A fresh, empty database on each backend."""
    if request.param == "sqlite":
        yield str(tmp_path / "calls.db")
        return
    server: PgServer = request.getfixturevalue("pg_server")
    name = f"t_{uuid.uuid4().hex[:12]}"
    server.admin(f"CREATE DATABASE {name}")
    yield server.url(name)
    server.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def pg_url(pg_server, request) -> str:
    name = f"t_{uuid.uuid4().hex[:12]}"
    pg_server.admin(f"CREATE DATABASE {name}")
    yield pg_server.url(name)
    pg_server.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def tiny_config(tmp_path) -> Path:
    return write_config(tmp_path)


@pytest.fixture(scope="session")
def scored_call(tmp_path_factory):
    """One short call scored by the real Scorer (tiny.en): (verdict JSON, transcript with words)."""
    from callaudit.batch import KeepTranscript
    from callaudit.pipeline import Scorer
    from callaudit.transcribe import Transcriber

    folder = tmp_path_factory.mktemp("scored")
    path = make_calls(folder, 1)[0]
    cfg = config.load(write_config(folder))
    keep = KeepTranscript(Transcriber(cfg))
    result = Scorer(cfg, transcriber=keep).score_file(path, "en", "1040")
    return result, keep.last, path

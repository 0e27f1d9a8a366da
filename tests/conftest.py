"""Shared fixtures: the real base model, loaded once per test session, a real PostgreSQL server of our
own (the store and workspace suites), and the folder for screenshots."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from callaudit import config
from callaudit.transcript.transcribe import Transcriber

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "test-output"  # screenshots and other artefacts a person may want to look at


@pytest.fixture(scope="session")
def transcriber() -> Transcriber:
    return Transcriber(config.defaults())


@pytest.fixture(scope="session")
def output_dir() -> Path:
    OUTPUT.mkdir(exist_ok=True)
    return OUTPUT


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

"""Helpers of the workspace suite: the calls and accounts of the test office, filling a store with the
real `callaudit batch` and `callaudit users add`, starting a real `callaudit serve`, logging in."""

from __future__ import annotations

import json
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from callaudit.sources.samples import BAD_CALL, GOOD_CALL, say

ROOT = Path(__file__).resolve().parents[2]
CALLAUDIT = [sys.executable, "-m", "callaudit.cli"]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--autoplay-policy=no-user-gesture-required"]
SCRIPT = "<script>alert(1)</script>"
CARD = "4111 1111 1111 1111"
# A finer ladder than the default: every offence is its own step, so one dismissal changes the step.
LADDER = [f"step {i}" for i in range(1, 21)]

# name -> (role, extension, department)
ACCOUNTS = {
    "Ada Admin": ("admin", None, None),
    "Olga HR": ("hr", None, None),
    "Sergey Lead": ("supervisor", None, "Support"),
    "Boris Petrov": ("agent", "1041", None),
    "Anna Ivanova": ("agent", "1040", None),
    "Victim HR": ("hr", None, None),
}


def password(name: str) -> str:
    return name.lower().replace(" ", "-") + "-Pa55word"


# name -> (script, extension): two bad calls for Boris (one HR reviews, one he appeals), Anna's good one,
# a short one for Clara in another department.
CALLS = {
    "bad1": (BAD_CALL, 1041), "bad2": (BAD_CALL, 1041), "good": (GOOD_CALL, 1040),
    "short": ([say("agent", "hello", at=0.5), say("customer", "auth-thankyou"), say("agent", "goodbye")], 1042),
}


def cli(*args: str, cwd: Path, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    out = subprocess.run(CALLAUDIT + list(args), capture_output=True, text=True, cwd=cwd, input=stdin, timeout=600)
    if check:
        assert out.returncode == 0, out.stdout + out.stderr
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(folder: Path, **web) -> Path:
    lines = ['[model]', 'name = "tiny.en"', f'dir = "{ROOT / "models"}"', 'threads = 1', '[transcription]',
             'language = "en"', '[batch]', 'workers = 1', '[policy]', f'ladder = {json.dumps(LADDER)}', '[web]',
             'language = "en"', f'secret_key = "{uuid.uuid4().hex}"']
    lines += [f"{k} = {json.dumps(v)}" for k, v in web.items()]
    lines += ['[roster]', 'agents = [',
              '  { extension = "1040", name = "Anna Ivanova", department = "Sales" },',
              '  { extension = "1041", name = "Boris Petrov", department = "Support" },',
              '  { extension = "1042", name = "Clara Smith", department = "Sales" },', ']']
    path = folder / "callaudit.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@dataclass
class Office:
    """A store filled by batch, with accounts; `ids` maps CALLS names to public ids."""

    root: Path
    db: str
    ids: dict[str, str]
    backend: str
    servers: list = field(default_factory=list)

    def sql(self, query: str, **params):
        import sqlalchemy as sa

        url = self.db if "://" in self.db else f"sqlite:///{self.db}"
        engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        try:
            with engine.begin() as conn:
                result = conn.execute(sa.text(query), params)
                return result.all() if result.returns_rows else None
        finally:
            engine.dispose()


def fill(root: Path, db: str, recordings: Path, backend: str) -> Office:
    write_config(root)
    cli("batch", str(recordings), "--db", db, cwd=root)
    listing = json.loads(cli("calls", "list", "--json", "--db", db, cwd=root).stdout)
    ids = {Path(c["file"]).name.split("-")[0]: c["id"] for c in listing}
    assert set(ids) == set(CALLS), listing
    office = Office(root, db, ids, backend)
    # Hostile text and a card number in one stored transcript turn: shown as text, masked.
    (sid, verdict), = office.sql("SELECT s.id, s.verdict FROM scores s JOIN calls c ON c.id = s.call_id "
                                 "WHERE c.sha256 LIKE :p AND s.is_current", p=ids["bad2"] + "%")
    verdict = verdict if isinstance(verdict, dict) else json.loads(verdict)
    verdict["transcript"][1]["text"] = f"{SCRIPT} my card is {CARD}"
    office.sql("UPDATE scores SET verdict = :v WHERE id = :i", v=json.dumps(verdict), i=sid)
    for name, (role, ext, dept) in ACCOUNTS.items():
        extra = (["--extension", ext] if ext else []) + (["--department", dept] if dept else [])
        cli("users", "add", name, "--role", role, *extra, "--password-stdin", "--db", db, cwd=root,
            stdin=password(name) + "\n")
    # A listen-in Sergey made on Boris, which recorded bad1.
    (call_id,), = office.sql("SELECT id FROM calls WHERE sha256 LIKE :p", p=ids["bad1"] + "%")
    office.sql("INSERT INTO listen_sessions (supervisor, extension, started_at, ended_at, mode, result, call_id) "
               "VALUES ('Sergey Lead', '1041', :a, :b, 'listen', 'completed', :c)",
               a="2026-11-12 09:30:00", b="2026-11-12 09:31:00", c=call_id)
    return office


def sqlite_copy(master: Office, folder: Path) -> Office:
    """A private copy of the SQLite office (every test module changes its store)."""
    with sqlite3.connect(master.db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(master.db, folder / "calls.db")
    write_config(folder)
    return Office(folder, str(folder / "calls.db"), dict(master.ids), "sqlite")


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def start_server(office: Office, config: Path | None = None) -> Server:
    """`callaudit serve` on a free port, ready when it accepts connections."""
    port = free_port()
    log = office.root / f"serve-{port}.log"
    cfg = config or office.root / "callaudit.toml"
    with open(log, "wb") as out:
        proc = subprocess.Popen(CALLAUDIT + ["--config", str(cfg), "serve", "--port", str(port), "--db", office.db],
                                cwd=office.root, stdout=out, stderr=subprocess.STDOUT)
    server = Server(f"http://127.0.0.1:{port}", proc, log)
    for _ in range(600):  # up to a minute: the first start imports numpy, SQLAlchemy and the rest
        if proc.poll() is not None:
            raise RuntimeError(f"callaudit serve exited {proc.returncode}:\n{server.output()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            office.servers.append(server)
            return server
        except OSError:
            time.sleep(0.1)  # polling a port for readiness, not synchronising on a guess
    proc.kill()
    raise RuntimeError(f"callaudit serve did not start:\n{server.output()}")


def stop(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.process.kill()


def login(browser, base: str, name: str, pw: str | None = None):
    """A new browser context logged in as `name` through the login form; returns (context, page)."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=base)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "404" not in m.text else None)
    page.errors = errors
    page.goto("/login")
    page.fill("#name", name)
    page.fill("#password", pw or password(name))
    page.press("#password", "Enter")  # the keyboard, as a person would
    page.wait_for_url(lambda u: "/login" not in u)
    return ctx, page


class _Any:
    """Equal to anything but None: `until(... == [x, ANY])` waits for a value to appear."""

    def __eq__(self, other) -> bool:
        return other is not None

    def __repr__(self) -> str:
        return "ANY"


ANY = _Any()


def until(check, timeout: float = 20.0):
    """Poll `check()` (a page evaluation) until it is true; the pages allow no eval, so Playwright's
    wait_for_function cannot run there."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"still {value!r} after {timeout} s")
        time.sleep(0.05)

"""The call store: where it is (SQLite file or PostgreSQL URL), its migrations, and saving verdicts.

`open_store()` resolves `--db` / $CALLAUDIT_DB / [store] db, connects, and brings the schema up to
date with Alembic (so a first run needs no set-up step). `save_result()` writes one verdict with its
findings, turns and words in one transaction: a process killed at any moment leaves either the whole
call or nothing.
"""

from __future__ import annotations

import os
import re
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from sqlalchemy import Engine, create_engine, event, select, text, update
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from .config import Config
from .errors import CallauditError
from .schema import FAILED, RUNNING, SCORED, Call, Finding, Score, Turn, Word, utcnow

DEFAULT_FILE = "callaudit.db"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_MIGRATION_LOCK = 0x0CA11A0D  # a PostgreSQL advisory lock: two workers starting at once migrate one at a time


class LeaseLost(Exception):
    """Another worker took this call over (our lease expired); the result is dropped, not saved twice."""


def resolve_url(db: str | None, config: Config | None = None) -> URL:
    """`db` (from --db or $CALLAUDIT_DB) else [store] db else ./callaudit.db, as a SQLAlchemy URL.
    A plain path is a SQLite file; a path in the config file is relative to that file's folder."""
    base = Path.cwd()
    if not db and config is not None:
        db = config["store"]["db"]
        if db and config.source not in ("defaults", "") and "://" not in db:
            base = Path(config.source).resolve().parent
    db = db or DEFAULT_FILE
    if "://" not in db and re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", db):
        raise CallauditError(f"bad database URL {db!r}: use a file path (calls.db) or "
                             "postgresql://user:password@host/dbname")
    if "://" not in db:
        path = Path(db).expanduser()
        path = path if path.is_absolute() else base / path
        if not path.parent.is_dir():
            raise CallauditError(f"database {path}: folder {path.parent} does not exist; create it or choose "
                                 "another --db")
        return URL.create("sqlite+pysqlite", database=str(path))
    try:
        url = make_url(db)
    except (ArgumentError, ValueError):
        raise CallauditError(f"bad database URL {db!r}: use a file path (calls.db) or "
                             "postgresql://user:password@host/dbname") from None
    backend = url.get_backend_name()
    if backend in ("postgresql", "postgres"):
        return url.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        return url
    raise CallauditError(f"database URL {redact(url)}: {backend} is not supported; "
                         "use a SQLite file path or a postgresql:// URL")


def redact(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # We send BEGIN ourselves (see _sqlite_begin); WAL lets readers run beside the one writer, and the
    # busy timeout makes worker processes queue for the write lock instead of failing.
    dbapi_connection.isolation_level = None
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA foreign_keys = ON")
    cur.execute("PRAGMA busy_timeout = 60000")
    cur.execute("PRAGMA journal_mode = WAL")
    cur.close()


def _sqlite_begin(conn) -> None:
    # IMMEDIATE takes the write lock at BEGIN: claiming a call (read, then update) is then atomic across
    # processes, and no transaction fails half-way trying to upgrade a read lock.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


@dataclass
class Store:
    """An open store: the engine, a session factory, and the URL to show (password hidden)."""

    engine: Engine
    url: URL
    sessions: sessionmaker[Session]

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def shown(self) -> str:
        return redact(self.url)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose transaction commits when the block ends and rolls back on an exception."""
        with self.sessions.begin() as s:
            yield s

    def close(self) -> None:
        self.engine.dispose()


def connect(url: URL) -> Store:
    """Connect (no migrations); a bad or unreachable database is one clear CallauditError."""
    try:
        if url.get_backend_name() == "sqlite":
            engine = create_engine(url, connect_args={"timeout": 60})
            event.listen(engine, "connect", _sqlite_pragmas)
            event.listen(engine, "begin", _sqlite_begin)
        else:
            engine = create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 10})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except NoSuchModuleError:
        raise CallauditError(f"database URL {redact(url)}: no driver for it; use postgresql:// or a file path") \
            from None
    except (DBAPIError, SQLAlchemyError, OSError) as e:
        raise CallauditError(f"cannot open database {redact(url)}: {error_line(e)}") from None
    return Store(engine, url, sessionmaker(engine, expire_on_commit=False))


def error_line(e: BaseException) -> str:
    """The first line of a database error: what the driver said, without SQLAlchemy's trailer."""
    orig = getattr(e, "orig", None) or e
    lines = [line.strip() for line in str(orig).splitlines() if line.strip()]
    return lines[0] if lines else e.__class__.__name__


def _alembic_config(connection=None):
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def revisions(store: Store) -> tuple[str | None, str]:
    """(the database's schema revision or None, the newest revision this callaudit knows)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    with store.engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    return current, head


def upgrade(store: Store) -> tuple[str | None, str]:
    """Apply every missing migration in one transaction; returns (revision before, revision now)."""
    from alembic import command

    before, head = revisions(store)
    if before == head:
        return before, head
    try:
        with store.engine.begin() as conn:
            if store.dialect == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
            command.upgrade(_alembic_config(conn), "head")
    except SQLAlchemyError as e:
        raise CallauditError(f"database {store.shown}: migration failed: {error_line(e)}") from None
    except Exception as e:  # alembic reports an unknown revision (a newer callaudit wrote it) this way
        if "Can't locate revision" in str(e):
            raise CallauditError(f"database {store.shown} was written by a newer callaudit (revision "
                                 f"{before}); upgrade callaudit") from None
        raise
    return before, head


def open_store(db: str | None = None, config: Config | None = None, migrate: bool = True) -> Store:
    """Open the store named by `db` / $CALLAUDIT_DB / [store] db and bring its schema up to date."""
    store = connect(resolve_url(db or os.environ.get("CALLAUDIT_DB") or None, config))
    if migrate:
        upgrade(store)
    return store


def _turn_words(transcript: Any, n_turns: int) -> list[list[Any]]:
    """Words per turn from a transcribe.Transcript; the JSON contract's transcript carries no words."""
    if transcript is None:
        return [[] for _ in range(n_turns)]
    turns = list(transcript.turns)
    if len(turns) != n_turns:  # the verdict was not made from this transcript: store no words rather than wrong ones
        return [[] for _ in range(n_turns)]
    return [list(t.words) for t in turns]


def add_score(session: Session, call: Call, result: dict, transcript: Any = None, worker: str = "",
              batch_run_id: int | None = None) -> Score:
    """Add `result` (the `score --json` dict) as the call's current score, with its rows. No commit."""
    for old in session.scalars(select(Score).where(Score.call_id == call.id, Score.is_current)):
        old.is_current = False
    session.flush()  # the unique current-score index must see the old one retired first
    c = result["call"]
    model = result.get("model") or {}
    score = Score(call_id=call.id, is_current=True, score=result["score"], flagged=result["flagged"],
                  flag_reasons=list(result.get("flag_reasons", [])), rules_version=result["rules_version"],
                  rules_file=result.get("rules_file", ""), model_name=str(model.get("name", "")), model=model,
                  language=c.get("language") or "", duration=c.get("duration") or 0.0, verdict=result,
                  worker=worker, batch_run_id=batch_run_id)
    score.findings = [Finding(position=i, rule=f["rule"], title=f["title"], severity=f["severity"],
                              status=f.get("status", ""), passed=f["passed"], at=f["at"],
                              detail=f.get("detail", ""), evidence=list(f.get("evidence", [])))
                      for i, f in enumerate(result["findings"])]
    words = _turn_words(transcript, len(result["transcript"]))
    score.turns = [Turn(position=i, speaker=t["speaker"], start=t["start"], end=t["end"], text=t["text"],
                        loudness_db=getattr(transcript.turns[i], "loudness_db", None) if words[i] else None,
                        words=[Word(position=j, start=w.start, end=w.end, text=w.text[:200],
                                    probability=w.probability) for j, w in enumerate(words[i])])
                   for i, t in enumerate(result["transcript"])]
    session.add(score)
    call.duration = c.get("duration")
    call.channels = c.get("channels")
    call.status, call.error, call.finished_at = SCORED, None, utcnow()
    return score


def save_result(store: Store, result: dict, transcript: Any = None, *, call_id: int | None = None,
                lease_token: str | None = None, worker: str = "", batch_run_id: int | None = None) -> int:
    """Store one verdict in one transaction and return the call's id.

    With `call_id` and `lease_token` (a claimed call from the queue) the save happens only while this
    worker still holds the lease: if the lease expired and another worker took the call over, LeaseLost
    is raised and nothing is written, so a call is never scored twice. Without them (a call scored
    outside the queue) the call row is found by sha256 or created."""
    with store.session() as s:
        if call_id is not None:
            # Compare-and-set on the lease token first: on PostgreSQL this also locks the row until commit.
            hit = s.execute(update(Call).where(Call.id == call_id, Call.status == RUNNING,
                                               Call.lease_token == lease_token)
                            .values(lease_owner=None, lease_token=None, lease_until=None)
                            .execution_options(synchronize_session=False))
            if hit.rowcount != 1:
                raise LeaseLost(f"call {call_id}: lease lost")
            call = s.get(Call, call_id)
            s.refresh(call)
        else:
            sha = result["call"]["sha256"]
            call = s.scalars(select(Call).where(Call.sha256 == sha)).first()
            if call is None:
                call = Call(sha256=sha, path=str(result["call"]["file"]), status=SCORED,
                            extension=result["call"].get("agent"))
                s.add(call)
                s.flush()
            # A batch worker that holds this call now loses it: its own save will find no lease.
            call.lease_owner = call.lease_token = call.lease_until = None
        add_score(s, call, result, transcript, worker, batch_run_id)
        return call.id


def mark_failed(store: Store, call_id: int, lease_token: str | None, reason: str) -> bool:
    """Record why a claimed call could not be scored; False when the lease had already been lost."""
    with store.session() as s:
        hit = s.execute(update(Call).where(Call.id == call_id, Call.status == RUNNING, Call.lease_token == lease_token)
                        .values(status=FAILED, error=reason, finished_at=utcnow(), lease_owner=None,
                                lease_token=None, lease_until=None)
                        .execution_options(synchronize_session=False))
        return hit.rowcount == 1

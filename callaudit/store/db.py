"""The call store: where it is (SQLite file or PostgreSQL URL), connecting to it, and its migrations.

`open_store()` resolves `--db` / [store] db ($CALLAUDIT_DB), connects, and brings the schema up to
date with Alembic (so a first run needs no set-up step).
"""

from __future__ import annotations

import re
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from callaudit.config import Config
from callaudit.errors import CallauditError

DEFAULT_FILE = "callaudit.db"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_MIGRATION_LOCK = 0x0CA11A0D  # a PostgreSQL advisory lock: two workers starting at once migrate one at a time


def resolve_url(db: str | None, config: Config | None = None) -> URL:
    """`db` (from --db) else [store] db (which $CALLAUDIT_DB overrides at load) else ./callaudit.db, as a
    SQLAlchemy URL. A plain path is a SQLite file (relative ones from the cwd)."""
    base = Path.cwd()
    db = db or (config.store.db if config is not None else "") or DEFAULT_FILE
    if "://" not in db and re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", db):
        raise CallauditError(f"bad database URL {masked(db)!r}: use a file path (calls.db) or "
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
        raise CallauditError(f"bad database URL {masked(db)!r}: use a file path (calls.db) or "
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


def masked(db: str) -> str:
    """A database URL as typed, fit to print: whatever stands between `user:` and the last `@` of its
    authority is the password — it is replaced, even where the URL is too broken to parse."""
    return re.sub(r"^([a-zA-Z][a-zA-Z0-9+.-]*:/{0,2}[^/@:]*:).*@", r"\1***@", db)


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


_REVISION = re.compile(r"^revision\s*=\s*['\"]([^'\"]+)['\"]", re.M)
_DOWN = re.compile(r"^down_revision\s*=\s*(?:['\"]([^'\"]+)['\"]|None)\s*$", re.M)


def _head_of_files() -> str | None:
    """The newest revision of the migration files, read without importing Alembic (its import costs a
    quarter of a second on every command); None when the files are not one plain line of revisions
    (a merge, a branch): then Alembic decides."""
    revs, downs = set(), set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        body = path.read_text(encoding="utf-8")
        rev, down = _REVISION.search(body), _DOWN.search(body)
        if rev is None or down is None:
            if path.name != "__init__.py":
                return None
            continue
        revs.add(rev[1])
        if down[1]:
            downs.add(down[1])
    heads = revs - downs
    return heads.pop() if len(heads) == 1 and downs <= revs else None


def _stored_revision(conn) -> tuple[bool, str | None]:
    """(whether the answer is plain, the database's revision) read with one SELECT."""
    from sqlalchemy import inspect

    if not inspect(conn).has_table("alembic_version"):
        return True, None
    rows = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return len(rows) <= 1, rows[0] if rows else None


def revisions(store: Store) -> tuple[str | None, str]:
    """(the database's schema revision or None, the newest revision this callaudit knows)."""
    head = _head_of_files()
    if head is not None:
        with store.engine.connect() as conn:
            plain, current = _stored_revision(conn)
        if plain:
            return current, head
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    with store.engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    return current, head


def upgrade(store: Store) -> tuple[str | None, str]:
    """Apply every missing migration; returns (revision before, revision now).

    The migrations run in one transaction, except where one must run outside any (PostgreSQL's CREATE
    INDEX CONCURRENTLY, which builds an index without blocking the workers that write): that one commits
    the work before it. Two processes upgrading at once take turns: on PostgreSQL under a session-level
    advisory lock, which, unlike a transaction-level one, is still held across those commits (see
    `_lock`); on SQLite under the write lock every transaction takes (BEGIN IMMEDIATE)."""
    before, head = revisions(store)
    if before == head:
        return before, head
    from alembic import command

    try:
        with store.engine.connect() as conn:
            locked = store.dialect == "postgresql"
            if locked:
                _lock(conn, store.shown)
            try:
                command.upgrade(_alembic_config(conn), "head")
            finally:
                if locked:
                    _unlock(conn)
    except SQLAlchemyError as e:
        raise CallauditError(f"database {store.shown}: migration failed: {error_line(e)}") from None
    except Exception as e:  # alembic reports an unknown revision (a newer callaudit wrote it) this way
        if "Can't locate revision" in str(e):
            raise CallauditError(f"database {store.shown} was written by a newer callaudit (revision "
                                 f"{before}); upgrade callaudit") from None
        raise
    return before, head


LOCK_WAIT = 1800.0  # s: how long to wait for another process's upgrade before saying so


def _lock(conn, shown: str) -> None:
    """Take the migration lock for this session, waiting for another upgrading process if need be.

    It is tried, not waited for inside the server: a backend waiting there holds a snapshot, and
    CREATE INDEX CONCURRENTLY in the process that holds the lock waits for every older snapshot to
    go, so each would wait for the other (PostgreSQL reports a deadlock). Between tries this
    connection is idle, outside any transaction."""
    conn.execution_options(isolation_level="AUTOCOMMIT")
    deadline = time.monotonic() + LOCK_WAIT
    while not conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": _MIGRATION_LOCK}).scalar():
        if time.monotonic() > deadline:
            raise CallauditError(f"database {shown}: another process has been upgrading the schema for "
                                 f"{LOCK_WAIT / 60:.0f} min; see pg_stat_activity, then run `callaudit db upgrade`")
        time.sleep(0.25)
    conn.commit()  # ends SQLAlchemy's bookkeeping of the autocommitted statements
    conn.execution_options(isolation_level=conn.default_isolation_level)  # Alembic opens its own transaction


def _unlock(conn) -> None:
    try:
        if conn.in_transaction():
            conn.rollback()
        conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _MIGRATION_LOCK})
        conn.commit()
    except SQLAlchemyError:  # a broken connection is discarded, and the server drops its locks with it
        conn.invalidate()


def open_store(db: str | None = None, config: Config | None = None, migrate: bool = True) -> Store:
    """Open the store named by `db` (--db) or the config ([store] db, $CALLAUDIT_DB) and bring its schema
    up to date."""
    store = connect(resolve_url(db, config))
    if migrate:
        upgrade(store)
    return store

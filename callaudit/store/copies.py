"""Copies of scored calls, in bulk: a month of a call centre built from a few real scored calls, for the
HR-at-scale tests and bench/reports.py.

Each copy is a new call (its own sha256 and id), handed to one of `agents` generated agents in a few
departments and dated over one month in office hours, with its scores (the current one and any
earlier), findings, transcript turns and words copied row for row by INSERT … SELECT in the database itself: 100 000 calls take
seconds, not the minutes 100 000 ORM objects would. Every `reviews_every`-th copy also gets copies of
the decisions taken on its original (so the ladder has dismissals to leave out).

The store must hold only the seed calls, all of them scored (the ids of copies are derived from the
seeds' ids).
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import Connection, func, inspect, select, text

from callaudit.store.db import Store
from callaudit.store.schema import AgentRow, CallRow

DEPARTMENTS = ("Sales", "Support", "Retention", "Billing")
DAY = 86400
OFFICE_START, OFFICE_HOURS = 8 * 3600, 12 * 3600
BUILD_CACHE_KB = 512 * 1024  # SQLite's page cache while copying (the build only: reset afterwards)


def _series(dialect: str) -> str:
    # One row per copy number 1..:copies; a recursive CTE reads the same on both backends, but
    # PostgreSQL's generate_series is much cheaper at 100 000 rows.
    if dialect == "postgresql":
        return "(SELECT generate_series(1, :copies) AS k) AS series"
    return "(WITH RECURSIVE n(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM n WHERE k < :copies) SELECT k FROM n) AS series"


def _when(dialect: str, index: str) -> str:
    """SQL for the time of the call numbered `index`: one of 30 days of the month, in office hours."""
    day = f"((({index}) * 11) % 30)"  # 11 and 30 share no factor: even a few calls spread over the month
    secs = f"({OFFICE_START} + (({index}) * 7919) % {OFFICE_HOURS})"
    if dialect == "postgresql":
        return f"(CAST(:month AS timestamptz) + make_interval(days => CAST({day} AS integer), secs => {secs}))"
    # SQLAlchemy keeps SQLite times as 'YYYY-MM-DD HH:MM:SS.ffffff' (naive UTC); the same form compares right.
    return f"(datetime(:month, '+' || {day} || ' days', '+' || {secs} || ' seconds') || '.000000')"


def _sha(dialect: str) -> str:
    # The copy number in the first 8 digits keeps the 16-digit public ids unique.
    if dialect == "postgresql":
        return "lpad(CAST(series.k AS text), 8, '0') || substr(t.sha256, 9)"
    return "substr('00000000' || series.k, -8, 8) || substr(t.sha256, 9)"


def _copy(conn: Connection, table: str, overrides: dict[str, str], where: str = "") -> int:
    # The database's columns, not the schema's: a store at an older revision is copied as it is.
    cols = [c["name"] for c in inspect(conn).get_columns(table)]
    exprs = [overrides.get(c, f"t.{c}") for c in cols]
    quoted = ", ".join(f'"{c}"' for c in cols)
    sql = (f'INSERT INTO {table} ({quoted}) SELECT {", ".join(exprs)} FROM {table} AS t CROSS JOIN '
           f"{_series(conn.dialect.name)} WHERE t.id <= :stride_{table} {where}")
    return conn.execute(text(sql), conn.info["copy_params"]).rowcount


def copy_calls(store: Store, copies: int, *, agents: int = 20, month: datetime = datetime(2026, 11, 1, tzinfo=timezone.utc),
               reviews_every: int = 20) -> int:
    """Add `copies` copies of every scored call in the store; returns how many calls the store holds now."""
    dialect = store.dialect
    with store.engine.begin() as conn:
        if dialect == "sqlite":  # room for the indexes being filled: SQLite's default 2 MB thrashes the disk
            conn.exec_driver_sql(f"PRAGMA cache_size = -{BUILD_CACHE_KB}")
        strides = {t: conn.execute(text(f"SELECT coalesce(max(id), 0) FROM {t}")).scalar_one()
                   for t in ("calls", "scores", "findings", "turns", "words", "reviews", "agents")}
        first_agent = strides["agents"] + 1
        conn.execute(AgentRow.__table__.insert(), [
            {"id": first_agent + j, "extension": str(2000 + j), "name": f"Agent {2000 + j}",
             "department": DEPARTMENTS[j % len(DEPARTMENTS)], "created_at": month, "updated_at": month}
            for j in range(agents)])
        sc, ss = strides["calls"], strides["scores"]
        params = {"copies": copies, "month": month.strftime("%Y-%m-%d %H:%M:%S") + ("+00" if dialect == "postgresql" else ""),
                  **{f"stride_{t}": n for t, n in strides.items()}}
        conn.info["copy_params"] = params
        new_call = f"(t.id + series.k * {sc})"
        when = _when(dialect, new_call)
        mix = f"(({new_call}) * 2654435761 % 1000003)"  # agents get every kind of seed call, not a fixed few
        _copy(conn, "calls", {
            "id": new_call, "sha256": _sha(dialect), "started_at": when, "queued_at": when, "finished_at": when,
            "agent_id": f"({first_agent} + {mix} % {agents})",
            "extension": f"CAST(2000 + {mix} % {agents} AS TEXT)",
            "uniqueid": "NULL", "batch_run_id": "NULL"}, "AND t.status = 'scored'")
        score_call = f"(t.call_id + series.k * {sc})"
        scored = "AND t.call_id IN (SELECT id FROM calls WHERE status = 'scored' AND id <= :stride_calls)"
        _copy(conn, "scores", {"id": f"(t.id + series.k * {ss})", "call_id": score_call,
                               "scored_at": _when(dialect, score_call), "batch_run_id": "NULL"}, scored)
        _copy(conn, "findings", {"id": f"(t.id + series.k * {strides['findings']})",
                                 "score_id": f"(t.score_id + series.k * {ss})"})
        _copy(conn, "turns", {"id": f"(t.id + series.k * {strides['turns']})",
                              "score_id": f"(t.score_id + series.k * {ss})"})
        _copy(conn, "words", {"id": f"(t.id + series.k * {strides['words']})",
                              "turn_id": f"(t.turn_id + series.k * {strides['turns']})"})
        _copy(conn, "reviews", {"id": f"(t.id + series.k * {strides['reviews']})", "call_id": score_call,
                                "score_id": f"(t.score_id + series.k * {ss})",
                                "finding_id": f"(t.finding_id + series.k * {strides['findings']})",
                                "appeal_id": f"(t.appeal_id + series.k * {strides['reviews']})",
                                "created_at": _when(dialect, score_call)},
              f"AND series.k % {max(1, reviews_every)} = 0")
        if dialect == "postgresql":  # the next ordinary insert must not reuse an id a copy took
            for t in strides:
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{t}', 'id'), "
                                  f"(SELECT coalesce(max(id), 1) FROM {t}))"))
        total = conn.execute(select(func.count()).select_from(CallRow)).scalar_one()
        if dialect == "sqlite":
            conn.exec_driver_sql("PRAGMA cache_size = -2000")  # SQLite's default again, for the pooled connection
    if dialect == "postgresql":
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
    else:
        with store.engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    return total

"""The scores index the HR reports read through also covers what their stream of calls shows of a score
(rules version, model, duration): SQLite reads a 100 000-call report's scores from the index alone

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01

Why: SQLite keeps a score's verdict (kilobytes) in its row, so that a row spans overflow pages; the
stream (report --format csv/json, store/hrqueries.report_calls) read each call's rules version, model
and duration from that row: at 100 000 calls, 0.3 CPU-s of the query's 1.9. ix_scores_stream has the
columns of ix_scores_report (0005) first and serves every query that one served, so it replaces it.
flag_reasons is left out: a JSON list of any length, and PostgreSQL refuses a B-tree entry over 2 704
bytes.

Safe on a live store, as 0005 is: on PostgreSQL the new index is built with CREATE INDEX CONCURRENTLY
(outside Alembic's transaction; an interrupted build's INVALID index is dropped and built again)
before the old one is dropped; on SQLite both happen in the migration's transaction.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

OLD = ("ix_scores_report", ["call_id", "is_current", "score", "flagged", "scored_at"])
NEW = ("ix_scores_stream", OLD[1] + ["rules_version", "model_name", "duration"])


def _invalid(name: str) -> bool:
    found = op.get_bind().execute(sa.text(
        "SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE c.relname = :name AND NOT i.indisvalid"), {"name": name}).first()
    return found is not None


def _swap(build: tuple[str, list[str]], drop: tuple[str, list[str]]) -> None:
    ctx = op.get_context()
    if ctx.dialect.name != "postgresql":
        op.create_index(build[0], "scores", build[1], if_not_exists=True)
        op.drop_index(drop[0], table_name="scores", if_exists=True)
        return
    with ctx.autocommit_block():
        if _invalid(build[0]):
            op.drop_index(build[0], table_name="scores", postgresql_concurrently=True, if_exists=True)
        op.create_index(build[0], "scores", build[1], postgresql_concurrently=True, if_not_exists=True)
        op.drop_index(drop[0], table_name="scores", postgresql_concurrently=True, if_exists=True)


def upgrade() -> None:
    _swap(NEW, OLD)


def downgrade() -> None:
    _swap(OLD, NEW)

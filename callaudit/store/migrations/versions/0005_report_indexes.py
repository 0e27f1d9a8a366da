"""Indexes the HR reports and the workspace read through: counted failures, an agent's calls over
time, a period's calls and scores (the decisions by scoring, ix_reviews_score_id, came with 0004)

Revision ID: 0005
Revises: 0003
Create Date: 2026-12-01

Safe on a live store. On PostgreSQL each index is built with CREATE INDEX CONCURRENTLY, which does
not block the workers that keep saving verdicts meanwhile (a plain CREATE INDEX would hold their
writes for as long as the build takes); it cannot run inside a transaction, so this migration steps
out of Alembic's (the work of the migrations before it is committed first) while db.upgrade()'s
session-level advisory lock keeps a second upgrading process waiting. A build that was interrupted
leaves an INVALID index behind: it is dropped and built again. On SQLite the indexes are built in
the migration's transaction, under the write lock (writers wait, their busy timeout covers it).
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0003"
branch_labels = None
depends_on = None

FAILED = sa.text("status = 'failed'")

# (name, table, columns, partial-index condition)
INDEXES = [
    # The failed findings of a scoring: violations, the ladder, each call's failed rules. Covering (the
    # reports read nothing else of them; SQLite wants the status in it to know), and small: only
    # failures, a quarter of the findings or fewer, are in it.
    ("ix_findings_failed", "findings", ["score_id", "status", "position", "rule", "severity"], FAILED),
    # One agent's calls over a period: the per-agent report, the workspace's agent page.
    ("ix_calls_agent_started", "calls", ["agent_id", "started_at"], None),
    # A period's scored calls and their current scores, with all that the figures per agent and day,
    # the violations and the ladder read of them: those passes never touch the tables' wide rows
    # (a verdict is kilobytes; SQLite keeps it in the row).
    ("ix_calls_report", "calls", ["status", "started_at", "agent_id", "extension"], None),
    ("ix_scores_report", "scores", ["call_id", "is_current", "score", "flagged", "scored_at"], None),
]


def _invalid(name: str) -> bool:
    found = op.get_bind().execute(sa.text(
        "SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE c.relname = :name AND NOT i.indisvalid"), {"name": name}).first()
    return found is not None


def upgrade() -> None:
    ctx = op.get_context()
    if ctx.dialect.name != "postgresql":
        for name, table, cols, where in INDEXES:
            op.create_index(name, table, cols, sqlite_where=where, if_not_exists=True)
        return
    with ctx.autocommit_block():
        for name, table, cols, where in INDEXES:
            if _invalid(name):
                op.drop_index(name, table_name=table, postgresql_concurrently=True, if_exists=True)
            op.create_index(name, table, cols, postgresql_where=where, postgresql_concurrently=True,
                            if_not_exists=True)


def downgrade() -> None:
    ctx = op.get_context()
    if ctx.dialect.name != "postgresql":
        for name, table, _, _ in reversed(INDEXES):
            op.drop_index(name, table_name=table, if_exists=True)
        return
    with ctx.autocommit_block():
        for name, table, _, _ in reversed(INDEXES):
            op.drop_index(name, table_name=table, postgresql_concurrently=True, if_exists=True)

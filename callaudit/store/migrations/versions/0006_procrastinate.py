"""The PostgreSQL work queue becomes procrastinate's: its tables, types and functions (a no-op on SQLite,
whose queue stays in the calls table)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01

The schema is procrastinate's own schema.sql of the pinned version (pyproject pins procrastinate
exactly): a later procrastinate needs a migration of ours that runs its upgrade scripts
(procrastinate/sql/migrations/) in order. Safe on a live store: it only creates new objects that
nothing reads yet, in one transaction; a store where the schema is already there is left alone.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    from procrastinate.schema import SchemaManager

    bind = op.get_bind()
    if bind.execute(sa.text("SELECT to_regclass('procrastinate_jobs')")).scalar() is not None:
        return
    # Many statements and '%' in them: straight to psycopg with no parameters, in the migration's transaction.
    with bind.connection.dbapi_connection.cursor() as cursor:
        cursor.execute(SchemaManager.get_schema())


def downgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    bind = op.get_bind()
    for (sig,) in bind.execute(sa.text(
            "SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = current_schema() AND p.proname LIKE 'procrastinate%'")).all():
        bind.exec_driver_sql(f"DROP FUNCTION IF EXISTS {sig} CASCADE")
    for table in ("procrastinate_periodic_defers", "procrastinate_events", "procrastinate_jobs",
                  "procrastinate_workers"):
        bind.exec_driver_sql(f"DROP TABLE IF EXISTS {table} CASCADE")
    for (name,) in bind.execute(sa.text("SELECT typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
                                        "WHERE n.nspname = current_schema() AND typname LIKE 'procrastinate%' "
                                        "AND typtype = 'e'")).all():
        bind.exec_driver_sql(f"DROP TYPE IF EXISTS {name} CASCADE")

"""Alembic environment. callaudit.store.db.upgrade() hands over an open connection outside any
transaction (on PostgreSQL holding a session-level advisory lock): the transaction is begun here, so
that a migration may step out of it (`autocommit_block`, for CREATE INDEX CONCURRENTLY). The
`alembic` command line, for writing a new revision, may instead pass -x url=sqlite:///dev.db."""

from alembic import context
from sqlalchemy import create_engine

from callaudit.store.schema import Base, ours

config = context.config
connection = config.attributes.get("connection")


def run(conn) -> None:
    # render_as_batch: SQLite cannot ALTER most things; batch mode rebuilds the table instead.
    context.configure(connection=conn, target_metadata=Base.metadata, render_as_batch=True,
                      compare_type=True, include_name=ours)
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    run(connection)
else:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    engine = create_engine(url)
    with engine.connect() as conn:
        run(conn)

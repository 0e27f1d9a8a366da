"""Requests followed across calls: each call's customer, its requests and commitments, what later calls
said about them, their derived statuses, and closures by hand

Revision ID: 0003
Revises: 0004
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0004"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "call_customers",
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("score_id", sa.Integer(), nullable=True),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("customer", sa.String(length=32), nullable=True),
        sa.Column("customer_why", sa.Text(), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=True),
        sa.Column("agent", sa.String(length=32), nullable=True),
        sa.Column("started_at", WHEN, nullable=False),
        sa.Column("start_source", sa.Text(), nullable=False),
        sa.Column("timed_by_metadata", sa.Boolean(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("extracted_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], name=op.f("fk_call_customers_call_id_calls"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["score_id"], ["scores.id"], name=op.f("fk_call_customers_score_id_scores"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("call_id", name=op.f("pk_call_customers")),
    )
    op.create_index(op.f("ix_call_customers_customer"), "call_customers", ["customer"])
    op.create_index(op.f("ix_call_customers_started_at"), "call_customers", ["started_at"])

    op.create_table(
        "requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=16), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("topics", JSON, nullable=False),
        sa.Column("customer", sa.String(length=32), nullable=True),
        sa.Column("agent", sa.String(length=32), nullable=True),
        sa.Column("asked_at", WHEN, nullable=False),
        sa.Column("request", JSON, nullable=True),
        sa.Column("commitment", JSON, nullable=True),
        sa.Column("committed_at", WHEN, nullable=True),
        sa.Column("due", WHEN, nullable=True),
        sa.Column("due_source", sa.String(length=8), nullable=True),
        sa.Column("done_in_call", JSON, nullable=True),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], name=op.f("fk_requests_call_id_calls"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_requests")),
        sa.UniqueConstraint("public_id", name=op.f("uq_requests_public_id")),
    )
    for column in ("agent", "asked_at", "call_id", "customer", "due"):
        op.create_index(op.f(f"ix_requests_{column}"), "requests", [column])

    op.create_table(
        "request_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("customer", sa.String(length=32), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("at", WHEN, nullable=False),
        sa.Column("said", JSON, nullable=False),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], name=op.f("fk_request_events_call_id_calls"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_events")),
    )
    op.create_index(op.f("ix_request_events_call_id"), "request_events", ["call_id"])
    op.create_index(op.f("ix_request_events_customer"), "request_events", ["customer"])

    op.create_table(
        "request_status",
        sa.Column("public_id", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("fulfilled_at", WHEN, nullable=True),
        sa.Column("evidence", JSON, nullable=False),
        sa.Column("doubt", sa.Text(), nullable=True),
        sa.Column("as_of", WHEN, nullable=False),
        sa.Column("charged", sa.String(length=32), nullable=True),
        sa.Column("finding", JSON, nullable=True),
        sa.Column("changed_at", WHEN, nullable=False),
        sa.Column("computed_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("public_id", name=op.f("pk_request_status")),
    )
    op.create_index(op.f("ix_request_status_charged"), "request_status", ["charged"])
    op.create_index(op.f("ix_request_status_status"), "request_status", ["status"])

    op.create_table(
        "request_closures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=16), nullable=False),
        sa.Column("by", sa.String(length=200), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_request_closures_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_closures")),
    )
    op.create_index(op.f("ix_request_closures_public_id"), "request_closures", ["public_id"])
    op.create_index(op.f("ix_request_closures_user_id"), "request_closures", ["user_id"])


def downgrade() -> None:
    for table in ("request_closures", "request_status", "request_events", "requests", "call_customers"):
        op.drop_table(table)

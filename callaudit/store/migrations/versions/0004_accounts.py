"""Workspace accounts: users, web sessions, login attempts (throttling), the view log, calibration
sessions; reviews gain their author's account and the appeal a decision answers

Revision ID: 0004
Revises: 0002
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0002"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("extension", sa.String(length=32), nullable=True),
        sa.Column("department", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("name", name=op.f("uq_users_name")),
    )
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("csrf", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("expires_at", WHEN, nullable=False),
        sa.Column("ended_at", WHEN, nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_web_sessions_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_web_sessions_token_hash")),
    )
    op.create_index(op.f("ix_web_sessions_user_id"), "web_sessions", ["user_id"])
    op.create_table(
        "login_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_attempts")),
    )
    op.create_index("ix_login_attempts_name_at", "login_attempts", ["name", "at"])
    op.create_index("ix_login_attempts_address_at", "login_attempts", ["address", "at"])
    op.create_table(
        "view_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("user_name", sa.String(length=200), nullable=False),
        sa.Column("what", sa.String(length=16), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.String(length=200), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], name=op.f("fk_view_log_call_id_calls"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_view_log_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_view_log")),
    )
    op.create_index(op.f("ix_view_log_user_id"), "view_log", ["user_id"])
    op.create_index(op.f("ix_view_log_call_id"), "view_log", ["call_id"])
    op.create_index(op.f("ix_view_log_at"), "view_log", ["at"])
    op.create_table(
        "calibration_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("call_ids", JSON, nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name=op.f("fk_calibration_sessions_created_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calibration_sessions")),
    )
    op.create_table(
        "calibration_verdicts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("score_id", sa.Integer(), nullable=True),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("verdict", sa.String(length=8), nullable=False),
        sa.Column("at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], name=op.f("fk_calibration_verdicts_call_id_calls"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["score_id"], ["scores.id"], name=op.f("fk_calibration_verdicts_score_id_scores"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["session_id"], ["calibration_sessions.id"],
                                name=op.f("fk_calibration_verdicts_session_id_calibration_sessions"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_calibration_verdicts_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calibration_verdicts")),
    )
    op.create_index(op.f("ix_calibration_verdicts_session_id"), "calibration_verdicts", ["session_id"])
    op.create_index("uq_calibration_verdicts_one", "calibration_verdicts",
                    ["session_id", "call_id", "rule", "user_id"], unique=True)
    # Reviews stay append-only; old rows keep their free-text `reviewer` and have no account.
    with op.batch_alter_table("reviews") as batch:
        batch.add_column(sa.Column("user_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("appeal_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(op.f("fk_reviews_user_id_users"), "users", ["user_id"], ["id"])
        batch.create_foreign_key(op.f("fk_reviews_appeal_id_reviews"), "reviews", ["appeal_id"], ["id"])
        batch.create_index(op.f("ix_reviews_user_id"), ["user_id"])
        batch.create_index(op.f("ix_reviews_appeal_id"), ["appeal_id"])
        batch.create_index(op.f("ix_reviews_score_id"), ["score_id"])


def downgrade() -> None:
    with op.batch_alter_table("reviews") as batch:
        batch.drop_index(op.f("ix_reviews_score_id"))
        batch.drop_index(op.f("ix_reviews_appeal_id"))
        batch.drop_index(op.f("ix_reviews_user_id"))
        batch.drop_constraint(op.f("fk_reviews_appeal_id_reviews"), type_="foreignkey")
        batch.drop_constraint(op.f("fk_reviews_user_id_users"), type_="foreignkey")
        batch.drop_column("appeal_id")
        batch.drop_column("user_id")
    for table in ("calibration_verdicts", "calibration_sessions", "view_log", "login_attempts", "web_sessions",
                  "users"):
        op.drop_table(table)

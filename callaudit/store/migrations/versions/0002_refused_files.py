"""Files a batch could not read at all (FIFOs, devices, broken links) are stored with their reason

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "refused_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("batch_run_id", sa.Integer(), nullable=True),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["batch_run_id"], ["batch_runs.id"],
                                name=op.f("fk_refused_files_batch_run_id_batch_runs"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refused_files")),
        sa.UniqueConstraint("path", name=op.f("uq_refused_files_path")),
    )


def downgrade() -> None:
    op.drop_table("refused_files")

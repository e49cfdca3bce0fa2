"""Audit trail: signed purge records of retention.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04 15:22:21.475304
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "audit_purges",
        sa.Column("purge_id", AutoString(length=32), nullable=False),
        sa.Column("purged_at", AutoString(length=32), nullable=False),
        sa.Column("cutoffs", AutoString(), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("digest", AutoString(length=64), nullable=False),
        sa.Column("key_id", AutoString(length=32), nullable=False),
        sa.Column("signature", AutoString(length=128), nullable=False),
        sa.PrimaryKeyConstraint("purge_id"),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("audit_purges")

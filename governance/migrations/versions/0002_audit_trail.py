"""Audit trail: signed checkpoints (Merkle leaves, nodes) and retention's purge records.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04 15:48:33.033445
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision.

    Development builds between the last release and this one made these tables
    with `create_all` and no revision; a table that exists is left as it is.
    """
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    _create(
        existing,
        "audit_checkpoints",
        sa.Column("number", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("tree_size", sa.Integer(), nullable=False),
        sa.Column("root_hash", AutoString(length=64), nullable=False),
        sa.Column("sealed_at", AutoString(length=32), nullable=False),
        sa.Column("body", AutoString(), nullable=False),
        sa.Column("key_id", AutoString(length=40), nullable=False),
        sa.Column("signature", AutoString(length=128), nullable=False),
        sa.PrimaryKeyConstraint("number"),
        sa.UniqueConstraint("tree_size"),
    )
    _create(
        existing,
        "audit_leaves",
        sa.Column("leaf_index", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("chain_id", AutoString(length=32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", AutoString(length=64), nullable=False),
        sa.PrimaryKeyConstraint("leaf_index"),
        sa.UniqueConstraint("chain_id", "seq", name="uq_audit_leaf_event"),
    )
    _create(
        existing,
        "audit_nodes",
        sa.Column("level", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("idx", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("hash", AutoString(length=64), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx"),
    )
    _create(
        existing,
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


def _create(existing: set[str], name: str, *parts: Any) -> None:
    if name not in existing:
        op.create_table(name, *parts)


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("audit_purges")
    op.drop_table("audit_nodes")
    op.drop_table("audit_leaves")
    op.drop_table("audit_checkpoints")

"""Baseline: the store as the releases before migrations made it.

A store made by those releases has these tables and no `alembic_version`;
`governance.schema.migrate` stamps it with this revision and upgrades it.

Revision ID: 0001
Revises:
Create Date: 2026-12-04 15:21:54.869502
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

from governance.consent.models import install_projection

revision: str = "0001"
down_revision: str | None = None
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "audit_chains",
        sa.Column("chain_id", AutoString(length=32), nullable=False),
        sa.Column("writer", AutoString(length=128), nullable=False),
        sa.Column("started_at", AutoString(length=32), nullable=False),
        sa.Column("head_seq", sa.Integer(), nullable=False),
        sa.Column("head_hash", AutoString(length=64), nullable=False),
        sa.PrimaryKeyConstraint("chain_id"),
    )
    op.create_table(
        "audit_events",
        sa.Column("chain_id", AutoString(length=32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("event_id", AutoString(length=36), nullable=False),
        sa.Column("ts", AutoString(length=32), nullable=False),
        sa.Column("kind", AutoString(length=32), nullable=False),
        sa.Column("caller", AutoString(length=64), nullable=True),
        sa.Column("purpose", AutoString(length=64), nullable=True),
        sa.Column("dataset", AutoString(length=64), nullable=True),
        sa.Column("subject_ref", AutoString(length=64), nullable=True),
        sa.Column("fields", AutoString(), nullable=False),
        sa.Column("obligations", AutoString(), nullable=False),
        sa.Column("outcome", AutoString(length=16), nullable=False),
        sa.Column("reason", AutoString(length=64), nullable=True),
        sa.Column("decision_id", AutoString(length=36), nullable=True),
        sa.Column(
            "policy_revision",
            AutoString(length=80),
            nullable=True,
        ),
        sa.Column("decision_shape", AutoString(length=32), nullable=True),
        sa.Column("detail", AutoString(), nullable=False),
        sa.Column("prev_hash", AutoString(length=64), nullable=False),
        sa.Column("hash", AutoString(length=64), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "seq"),
        sa.UniqueConstraint("event_id"),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index("ix_audit_caller_ts", ["caller", "ts"], unique=False)
        batch_op.create_index(
            "ix_audit_subject_ts", ["subject_ref", "ts"], unique=False
        )
        batch_op.create_index("ix_audit_ts", ["ts"], unique=False)

    op.create_table(
        "audit_subjects",
        sa.Column("subject_ref", AutoString(length=64), nullable=False),
        sa.Column("ts", AutoString(length=32), nullable=False),
        sa.Column("chain_id", AutoString(length=32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("subject_ref", "ts", "chain_id", "seq"),
    )
    op.create_table(
        "callers",
        sa.Column("name", AutoString(length=64), nullable=False),
        sa.Column("role", AutoString(length=16), nullable=False),
        sa.Column("purposes", AutoString(), nullable=False),
        sa.Column("key_id", AutoString(length=32), nullable=False),
        sa.Column("key_hash", AutoString(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )
    with op.batch_alter_table("callers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_callers_key_id"), ["key_id"], unique=True)

    op.create_table(
        "consent_current",
        sa.Column("subject_id", AutoString(length=128), nullable=False),
        sa.Column("purpose", AutoString(length=64), nullable=False),
        sa.Column("ledger_id", sa.Integer(), nullable=False),
        sa.Column("action", AutoString(length=16), nullable=False),
        sa.Column("event_id", AutoString(length=36), nullable=False),
        sa.Column(
            "notice_version",
            AutoString(length=64),
            nullable=False,
        ),
        sa.Column("kind", AutoString(length=16), nullable=False),
        sa.Column("grantor", AutoString(length=16), nullable=False),
        sa.Column("scope", AutoString(), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("subject_id", "purpose"),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("consent_current", schema=None) as batch_op:
        batch_op.create_index(
            "ix_consent_current_expiry", ["action", "expires_at"], unique=False
        )

    op.create_table(
        "consent_events",
        sa.Column("subject_id", AutoString(length=128), nullable=False),
        sa.Column("purpose", AutoString(length=64), nullable=False),
        sa.Column("action", AutoString(length=16), nullable=False),
        sa.Column(
            "notice_version",
            AutoString(length=64),
            nullable=False,
        ),
        sa.Column("method", AutoString(length=32), nullable=False),
        sa.Column("channel", AutoString(length=32), nullable=False),
        sa.Column("scope", AutoString(), nullable=False),
        sa.Column("kind", AutoString(length=16), nullable=False),
        sa.Column("grantor", AutoString(length=16), nullable=False),
        sa.Column("evidence_hash", AutoString(length=64), nullable=True),
        sa.Column("expires_at", UTCDateTime(), nullable=True),
        sa.Column(
            "declared_frequency",
            AutoString(length=32),
            nullable=True,
        ),
        sa.Column("refers_to", AutoString(length=36), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", AutoString(length=36), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("recorded_by", AutoString(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id"),
    )
    with op.batch_alter_table("consent_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_consent_subject_purpose", ["subject_id", "purpose", "id"], unique=False
        )

    install_projection(op.get_bind())

    op.create_table(
        "decision_shapes",
        sa.Column("shape_id", AutoString(length=32), nullable=False),
        sa.Column("revision", AutoString(length=80), nullable=False),
        sa.Column("input", AutoString(), nullable=False),
        sa.Column("result", AutoString(), nullable=False),
        sa.PrimaryKeyConstraint("shape_id"),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("decision_shapes")
    with op.batch_alter_table("consent_events", schema=None) as batch_op:
        batch_op.drop_index("ix_consent_subject_purpose")

    op.drop_table("consent_events")
    with op.batch_alter_table("consent_current", schema=None) as batch_op:
        batch_op.drop_index("ix_consent_current_expiry")

    op.drop_table("consent_current")
    with op.batch_alter_table("callers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_callers_key_id"))

    op.drop_table("callers")
    op.drop_table("audit_subjects")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_ts")
        batch_op.drop_index("ix_audit_subject_ts")
        batch_op.drop_index("ix_audit_caller_ts")

    op.drop_table("audit_events")
    op.drop_table("audit_chains")

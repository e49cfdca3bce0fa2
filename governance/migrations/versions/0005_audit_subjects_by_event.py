"""Audit: the subject index is also searchable by event.

Retention removes a purged event's rows by (chain_id, seq), and `verify`
compares each event's rows with the subjects its detail lists: both searched
the whole index without it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 00:20:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_index(
        "ix_audit_subjects_event", "audit_subjects", ["chain_id", "seq"], unique=False
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_audit_subjects_event", table_name="audit_subjects")

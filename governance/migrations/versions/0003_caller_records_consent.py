"""Callers: whether a caller records consent for subjects (grants, opt-ins, links).

Callers of earlier releases start without it: a service that only uses the
data can no longer give consent in a subject's name. An admin registers the
app that asks subjects with `records_consent` (see the README).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05 19:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("callers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "records_consent",
                sa.Boolean(),
                server_default=sa.false(),
                nullable=False,
            )
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("callers", schema=None) as batch_op:
        batch_op.drop_column("records_consent")

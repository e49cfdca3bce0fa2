"""Consent ledger: an event is followed (ended or reversed) by at most one other.

A unique index on `consent_events.refers_to` (where set): of two changes made
from the same state at once, such as a double tap on withdraw, the second to
commit fails and the proxy makes it again from the state the first left, so a
grant is withdrawn, superseded or expired once. A store whose ledger already
names one event twice (from such a race before this release) cannot take the
index; the upgrade then stops and says how many events are concerned.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 00:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from governance.schema import MigrationRefused

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

_WHERE = sa.text("refers_to IS NOT NULL")
_TWICE = sa.text(
    "SELECT count(*) FROM (SELECT refers_to FROM consent_events"
    " WHERE refers_to IS NOT NULL GROUP BY refers_to HAVING count(*) > 1) AS twice"
)


def upgrade() -> None:
    """Apply this revision."""
    twice = op.get_bind().execute(_TWICE).scalar_one()
    if twice:
        raise MigrationRefused(
            f"{twice} consent events are each followed by more than one event (a"
            " race before this release), so the unique index cannot be created;"
            " group consent_events by refers_to to find them"
        )
    op.create_index(
        "ux_consent_follows_once",
        "consent_events",
        ["refers_to"],
        unique=True,
        sqlite_where=_WHERE,
        postgresql_where=_WHERE,
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ux_consent_follows_once", table_name="consent_events")

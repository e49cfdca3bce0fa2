"""The consent tables: the append-only ledger and its current-state projection.

`consent_events` is the ledger. Actions: `granted`, `withdrawn`, `expired`,
`superseded` (an older grant replaced by a newer one), and for the
personalisation opt-out (A-01, purpose `personalisation`) `opted_out` /
`opted_in`. Rows are only ever inserted.

`consent_current` holds, per subject and purpose, the latest event that decides
the state (every action but `superseded`). The database keeps it: a trigger on
`consent_events` upserts it in the same statement as the insert, so it can never
disagree with the ledger, whoever writes (the API, an import, a bulk load), and
concurrent writers for one pair end on the event with the highest ledger id.
Reads by key then cost one primary-key lookup however long the history grows.
"""

from datetime import datetime

from sqlalchemy import Index, MetaData, event
from sqlalchemy.engine import Connection
from sqlmodel import Field, SQLModel

DECIDING_ACTIONS = ("granted", "withdrawn", "expired", "opted_out", "opted_in")


class ConsentEventBase(SQLModel):
    """What a consent event says."""

    subject_id: str = Field(max_length=128)
    purpose: str = Field(max_length=64)
    action: str = Field(max_length=16)
    notice_version: str = Field(max_length=64)
    method: str = Field(max_length=32)
    channel: str = Field(max_length=32)
    scope: str = Field(default="[]", description="JSON list of categories covered.")
    kind: str = Field(
        default="general", max_length=16, description="general|separate|guardian"
    )
    grantor: str = Field(default="self", max_length=16, description="self|guardian")
    evidence_hash: str | None = Field(default=None, max_length=64)
    expires_at: datetime | None = None
    declared_frequency: str | None = Field(default=None, max_length=32)
    refers_to: str | None = Field(
        default=None,
        max_length=36,
        description="The grant a superseded/expired event ends.",
    )


class ConsentEvent(ConsentEventBase, table=True):
    """A stored consent event."""

    __tablename__ = "consent_events"
    __table_args__ = (
        Index("ix_consent_subject_purpose", "subject_id", "purpose", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(unique=True, max_length=36)
    recorded_at: datetime
    recorded_by: str = Field(max_length=64)


class ConsentCurrent(SQLModel, table=True):
    """The deciding event of one subject and purpose (maintained by the database)."""

    __tablename__ = "consent_current"
    __table_args__ = (
        Index("ix_consent_current_expiry", "action", "expires_at"),
        # SQLite: the table is its primary key's b-tree, so a subject's rows sit
        # together and a lookup is one search, not an index search plus a row fetch.
        {"sqlite_with_rowid": False},
    )

    subject_id: str = Field(primary_key=True, max_length=128)
    purpose: str = Field(primary_key=True, max_length=64)
    ledger_id: int = Field(description="consent_events.id of the deciding event")
    action: str = Field(max_length=16)
    event_id: str = Field(max_length=36)
    notice_version: str = Field(max_length=64)
    kind: str = Field(max_length=16)
    grantor: str = Field(max_length=16)
    scope: str
    recorded_at: datetime
    expires_at: datetime | None = None


_COPIED = (
    "action",
    "event_id",
    "notice_version",
    "kind",
    "grantor",
    "scope",
    "recorded_at",
    "expires_at",
)
_COLUMNS = ", ".join(("subject_id", "purpose", "ledger_id", *_COPIED))
_DECIDING = ", ".join(f"'{a}'" for a in DECIDING_ACTIONS)
_UPSERT = (
    " ON CONFLICT (subject_id, purpose) DO UPDATE SET ledger_id = excluded.ledger_id, "
    + ", ".join(f"{c} = excluded.{c}" for c in _COPIED)
    + " WHERE excluded.ledger_id > consent_current.ledger_id"
)
# Every piece of SQL below is built from the constants above, never from input.
_FOLLOW = (
    f"INSERT INTO consent_current ({_COLUMNS}) VALUES (NEW.subject_id, NEW.purpose,"  # noqa: S608
    f" NEW.id, {', '.join('NEW.' + c for c in _COPIED)}){_UPSERT};"
)
# Stores made before the projection existed: fill it once from the ledger.
_BACKFILL = (
    f"INSERT INTO consent_current ({_COLUMNS}) SELECT subject_id, purpose, id,"  # noqa: S608
    f" {', '.join(_COPIED)} FROM consent_events WHERE id IN (SELECT max(id) FROM"
    f" consent_events WHERE action IN ({_DECIDING}) GROUP BY subject_id, purpose)"
    f" AND NOT EXISTS (SELECT 1 FROM consent_current){_UPSERT}"
)
_SQLITE_TRIGGER = (
    "CREATE TRIGGER IF NOT EXISTS consent_current_follows AFTER INSERT ON"
    f" consent_events WHEN NEW.action IN ({_DECIDING}) BEGIN {_FOLLOW} END"
)
_PG_FUNCTION = (
    "CREATE OR REPLACE FUNCTION consent_current_follows() RETURNS trigger"
    f" LANGUAGE plpgsql AS $$ BEGIN {_FOLLOW} RETURN NULL; END $$"
)
# PostgreSQL keeps rows in arrival order, so a page of subjects would touch one
# heap page per row; this index answers the consent read on its own.
_PG_COVERING = (
    "CREATE INDEX IF NOT EXISTS ix_consent_current_covering ON consent_current"
    " (subject_id, purpose) INCLUDE (action, notice_version, kind, grantor, scope,"
    " expires_at)"
)
_PG_TRIGGER = (
    "CREATE OR REPLACE TRIGGER consent_current_follows AFTER INSERT ON"
    f" consent_events FOR EACH ROW WHEN (NEW.action IN ({_DECIDING}))"
    " EXECUTE FUNCTION consent_current_follows()"
)


@event.listens_for(SQLModel.metadata, "after_create")
def _install_projection(_metadata: MetaData, conn: Connection, **_kw: object) -> None:
    install_projection(conn)


def install_projection(conn: Connection) -> None:
    """Create the trigger that keeps `consent_current` and fill it (idempotent)."""
    statements: tuple[str, ...]
    if conn.dialect.name == "sqlite":
        statements = (_SQLITE_TRIGGER, _BACKFILL)
    elif conn.dialect.name == "postgresql":
        statements = (_PG_FUNCTION, _PG_TRIGGER, _PG_COVERING, _BACKFILL)
    else:
        raise NotImplementedError(f"no consent projection for {conn.dialect.name}")
    for statement in statements:
        conn.exec_driver_sql(statement)

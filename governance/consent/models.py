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

import operator
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Index, MetaData, event, insert, text
from sqlalchemy.engine import Connection, Dialect
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
        description="The event this one follows: the grant a superseded, withdrawn"
        " or expired event ends, the withdrawal, expiry or lapsed grant a grant"
        " comes after (a subject's first grant for a purpose: a digest of the"
        " pair), the"
        " opt-out or opt-in an opt-in or opt-out reverses. Unique: each event is"
        " followed once.",
    )


class ConsentEvent(ConsentEventBase, table=True):
    """A stored consent event."""

    __tablename__ = "consent_events"
    __table_args__ = (
        Index("ix_consent_subject_purpose", "subject_id", "purpose", "id"),
        # An event follows (ends, or reverses) the one it names at most once: of
        # two changes made from the same state at once (a double tap on withdraw,
        # a grant racing a withdrawal, two sweeps), the second to commit fails and
        # is made again from the state the first left.
        Index(
            "ux_consent_follows_once",
            "refers_to",
            unique=True,
            sqlite_where=text("refers_to IS NOT NULL"),
            postgresql_where=text("refers_to IS NOT NULL"),
        ),
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


# A bulk append on SQLite projects the new events in one statement instead: the
# latest deciding event of each pair among those after `?` (the last id before it).
_PROJECT_SINCE = (
    f"INSERT INTO consent_current ({_COLUMNS}) SELECT subject_id, purpose, id,"  # noqa: S608
    f" {', '.join(_COPIED)} FROM consent_events WHERE id IN (SELECT max(id) FROM"
    f" consent_events WHERE id > ? AND action IN ({_DECIDING}) GROUP BY subject_id,"
    f" purpose) AND true{_UPSERT}"  # `AND true`: SQLite's upsert-after-SELECT rule
)
_LAST_ID = "SELECT coalesce(max(id), 0) FROM consent_events"
_SQLITE_UNFOLLOW = "DROP TRIGGER consent_current_follows"


def bulk_append(rows: list[dict[str, Any]]) -> Callable[[Connection], None]:
    """Work that appends many ledger events in the caller's transaction.

    On SQLite the per-row trigger costs about three times the inserts themselves
    (100 µs a row measured on a 131,000-event import), so the work drops it,
    inserts, projects the new events in one set-based statement and creates the
    trigger again. The transaction holds SQLite's write lock throughout, so no
    other writer can insert while the trigger is away, and a failure rolls all of
    it back, trigger included. PostgreSQL keeps its trigger (DDL there would lock
    the ledger against every reader and writer).
    """

    def work(conn: Connection) -> None:
        if conn.dialect.name != "sqlite":
            conn.execute(insert(ConsentEvent), rows)
            return
        if not conn.connection.driver_connection.in_transaction:  # type: ignore[union-attr]
            # sqlite3 begins implicitly only before INSERT, UPDATE and DELETE: the
            # DROP must not run (and commit) on its own.
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        last = conn.exec_driver_sql(_LAST_ID).scalar_one()
        conn.exec_driver_sql(_SQLITE_UNFOLLOW)
        conn.exec_driver_sql(*_driver_rows(conn.dialect, rows))
        conn.exec_driver_sql(_PROJECT_SINCE, (last,))
        conn.exec_driver_sql(_SQLITE_TRIGGER)

    return work


def _driver_rows(
    dialect: Dialect, rows: list[dict[str, Any]]
) -> tuple[str, list[tuple[Any, ...]]]:
    """An INSERT of `rows` (all with the same keys) and its parameters as tuples,
    each value converted by its column type's own bind processor (the instants;
    text passes as it is): what SQLAlchemy stores, without its per-row dictionary
    handling, which cost a third of an import's commit."""
    names = tuple(rows[0])
    columns = ConsentEvent.__table__.columns  # type: ignore[attr-defined]
    converted = [
        (i, f)
        for i, f in enumerate(
            columns[n].type.dialect_impl(dialect).bind_processor(dialect) for n in names
        )
        if f is not None
    ]
    values = operator.itemgetter(*names)
    params = []
    for row in rows:
        param = list(values(row))
        for i, f in converted:
            if param[i] is not None:
                param[i] = f(param[i])
        params.append(tuple(param))
    sql = (
        f"INSERT INTO consent_events ({', '.join(names)})"  # noqa: S608 - column names
        f" VALUES ({', '.join('?' * len(names))})"
    )
    return sql, params


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

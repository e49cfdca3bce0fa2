"""The consent ledger: append-only events; a subject's state is derived from them.

Reads answer "what is this subject's consent for this purpose now (or at instant
T)?" for one subject or a page of subjects. Writes are not done here:
`ConsentChange.statement()` builds the insert and the caller commits it in the
same transaction as its audit event (`audit.writer.AuditWriter.append`), so a
consent change is never stored without its audit event, nor the reverse.

State: the latest `granted`/`withdrawn`/`expired` event decides; a grant whose
`expires_at` has passed counts as expired even before a sweep records it.
Current state is read from `consent_current`, the projection the database keeps
in step with the ledger (see `models`): one lookup by key, whatever the length of
the history. Nothing is cached: a withdrawal holds from the very next read,
everywhere.
"""

import functools
import hashlib
import json
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol, cast

from sqlalchemy import Insert, TextClause, bindparam, insert, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel import col

from governance.consent.models import ConsentCurrent, ConsentEvent
from governance.errors import StoreUnavailable
from governance.observability.metrics import CONSENT_LOOKUPS
from governance.types import ConsentState

PERSONALISATION = "personalisation"


class ConsentAction(StrEnum):
    """What a consent event records."""

    GRANTED = "granted"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"
    SUPERSEDED = "superseded"
    OPTED_OUT = "opted_out"
    OPTED_IN = "opted_in"


_STATE_ACTIONS = ("granted", "withdrawn", "expired")


def as_utc(moment: datetime) -> datetime:
    """Stores hand back naive UTC datetimes; make every instant aware."""
    return (
        moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    )


def first_grant_claim(subject_id: str, purpose: str) -> str:
    """What a subject's first grant for `purpose` follows: the pair itself.

    Every grant names what it follows (`refers_to`): the withdrawal or expiry it
    comes after (or the lapsed grant, before the sweep records its expiry), the
    grant it supersedes through its `superseded` event, or,
    with no state yet, this digest of the pair (`pair` and 32 hex digits, never
    an event id, which has dashes). Of two grants made from the same state at
    once (two taps, an import racing the app), the unique index lets one be
    stored; the other is made again from the state it left.
    """
    pair = f"{subject_id}\x1f{purpose}".encode()
    return "pair" + hashlib.blake2b(pair, digest_size=16).hexdigest()


@dataclass(frozen=True)
class ConsentChange:
    """A validated consent event about to be recorded."""

    subject_id: str
    purpose: str
    action: ConsentAction
    notice_version: str
    method: str
    channel: str
    recorded_by: str
    scope: tuple[str, ...] = ()
    kind: str = "general"
    grantor: str = "self"
    evidence_hash: str | None = None
    expires_at: datetime | None = None
    declared_frequency: str | None = None
    refers_to: str | None = None

    def values(self, event_id: str, recorded_at: datetime) -> dict[str, Any]:
        """The stored row of this change."""
        return {
            "event_id": event_id,
            "subject_id": self.subject_id,
            "purpose": self.purpose,
            "action": self.action.value,
            "notice_version": self.notice_version,
            "method": self.method,
            "channel": self.channel,
            "scope": json.dumps(sorted(self.scope)),
            "kind": self.kind,
            "grantor": self.grantor,
            "evidence_hash": self.evidence_hash,
            "expires_at": self.expires_at,
            "declared_frequency": self.declared_frequency,
            "refers_to": self.refers_to,
            "recorded_at": recorded_at,
            "recorded_by": self.recorded_by,
        }

    def ending(
        self, grant_event_id: str | None, notice_version: str | None
    ) -> "ConsentChange":
        """The `superseded` event this grant records for the live grant it replaces."""
        return replace(
            self,
            action=ConsentAction.SUPERSEDED,
            notice_version=notice_version or self.notice_version,
            scope=(),
            kind="general",
            grantor="self",
            evidence_hash=None,
            expires_at=None,
            declared_frequency=None,
            refers_to=grant_event_id,
        )

    def statement(self, at: datetime | None = None) -> tuple[str, datetime, Insert]:
        """A new event id, its timestamp (`at`, or now), and the insert that
        records this change."""
        event_id, now = str(uuid.uuid4()), at or datetime.now(UTC)
        return event_id, now, insert(ConsentEvent).values(**self.values(event_id, now))


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    """A subject's consent for one purpose, as derived from the ledger."""

    state: ConsentState
    event_id: str | None = None
    notice_version: str | None = None
    kind: str | None = None
    grantor: str | None = None
    scope: frozenset[str] = field(default_factory=frozenset)
    since: datetime | None = None
    expires_at: datetime | None = None


NO_CONSENT = ConsentRecord(ConsentState.NONE)


class StateEvent(Protocol):
    """The columns of a state event that `derive` reads (an event or a row of them)."""

    action: str
    event_id: str
    notice_version: str
    kind: str
    grantor: str
    scope: str
    recorded_at: datetime
    expires_at: datetime | None


@functools.lru_cache(maxsize=4096)
def _scope(text: str) -> frozenset[str]:
    """Parse a stored scope once: few distinct scopes recur across millions of rows."""
    return frozenset(json.loads(text))


def derive(event: StateEvent | None, now: datetime) -> ConsentRecord:
    """The record a latest state event stands for at `now`."""
    if event is None:
        return NO_CONSENT
    expires = as_utc(event.expires_at) if event.expires_at else None
    state = ConsentState(event.action)
    if state is ConsentState.GRANTED and expires is not None and expires <= now:
        state = ConsentState.EXPIRED
    return ConsentRecord(
        state=state,
        event_id=event.event_id,
        notice_version=event.notice_version,
        kind=event.kind,
        grantor=event.grantor,
        scope=_scope(event.scope),
        since=as_utc(event.recorded_at),
        expires_at=expires,
    )


# What a decision needs from `consent_current`, in the order a reader returns it.
STATE_COLUMNS = (
    "subject_id",
    "purpose",
    "action",
    "notice_version",
    "kind",
    "grantor",
    "scope",
    "expires_at",
)
# Untyped text: rows come back as the driver gives them, with no per-value
# conversion (`stored_instant` converts the one timestamp that may matter). One subject
# (a governed read) binds fixed parameters, so the statement is prepared once;
# a page of subjects passes its ids as one JSON array on SQLite and as an
# expanded IN list elsewhere.
_SELECT = f"SELECT {', '.join(STATE_COLUMNS)} FROM consent_current WHERE "  # noqa: S608
ONE_SQL = _SELECT + "subject_id = :id AND purpose IN (:p0, :p1)"
MANY_SQLITE_SQL = (
    _SELECT  # noqa: S608 - constants; the ids are one bound parameter
    + "subject_id IN (SELECT value FROM json_each(:ids)) AND purpose IN (:p0, :p1)"
)
_ONE = text(ONE_SQL)
_MANY_SQLITE = text(MANY_SQLITE_SQL)
_MANY = text(_SELECT + "subject_id IN :ids AND purpose IN :purposes").bindparams(
    bindparam("ids", expanding=True), bindparam("purposes", expanding=True)
)
_FULL = select(ConsentCurrent).where(
    col(ConsentCurrent.subject_id) == bindparam("subject_id"),
    col(ConsentCurrent.purpose) == bindparam("purpose"),
)
_STATE_OF = {s.value: s for s in ConsentState}


class StateReader(Protocol):
    """Reads `consent_current` rows by key, as tuples in `STATE_COLUMNS` order."""

    async def states(
        self, subject_ids: Sequence[str], purposes: Sequence[str]
    ) -> Iterable[Sequence[Any]]:
        """The rows of these subjects for these one or two purposes (absent pairs:
        no row)."""
        ...


def sqlite_page(subject_ids: Sequence[str], purposes: Sequence[str]) -> dict[str, str]:
    """`MANY_SQLITE_SQL`'s parameters: the ids as one JSON array, the one or two
    purposes bound each (a second `json_each` doubles the statement's time)."""
    return {"ids": json.dumps(subject_ids), "p0": purposes[0], "p1": purposes[-1]}


class SqlStateReader:
    """`StateReader` over the store's SQLAlchemy engine (SQLite, PostgreSQL)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def states(
        self, subject_ids: Sequence[str], purposes: Sequence[str]
    ) -> Iterable[Sequence[Any]]:
        """One indexed query per call; a store that fails raises `StoreUnavailable`."""
        stmt: TextClause
        params: dict[str, Any]
        if len(subject_ids) == 1 and len(purposes) <= 2:
            stmt = _ONE
            params = {"id": subject_ids[0], "p0": purposes[0], "p1": purposes[-1]}
        elif self._engine.dialect.name == "sqlite":
            stmt = _MANY_SQLITE
            params = sqlite_page(subject_ids, purposes)
        else:
            stmt, params = _MANY, {"ids": list(subject_ids), "purposes": list(purposes)}
        async with reading(self._engine) as conn:
            return (await conn.execute(stmt, params)).all()


@asynccontextmanager
async def reading(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection to read consent through; a store that fails raises
    `StoreUnavailable`, naming only the error's type (its text may quote a
    subject id)."""
    try:
        async with engine.connect() as conn:
            yield conn
    except (SQLAlchemyError, OSError) as exc:
        raise StoreUnavailable(f"consent store failed ({type(exc).__name__})") from None


def stored_instant(value: str | datetime) -> datetime:
    """An aware UTC instant from a stored timestamp (SQLite text or a datetime)."""
    return as_utc(datetime.fromisoformat(value) if isinstance(value, str) else value)


def _decision_record(row: Sequence[Any], now: datetime) -> ConsentRecord:
    """The record a `consent_current` row stands for at `now` (no event id, no since)."""
    _, _, action, notice, kind, grantor, scope, expires = row
    state = _STATE_OF[action]
    if expires is not None:
        expires = stored_instant(expires)
        if state is ConsentState.GRANTED and expires <= now:
            state = ConsentState.EXPIRED
    return ConsentRecord(
        state, None, notice, kind, grantor, _scope(scope), None, expires
    )


class ConsentLedger:
    """Reads consent state from the governance store.

    Current state comes from `consent_current`: decisions read it through a
    `StateReader` (by default the store's engine; on PostgreSQL the app passes
    a leaner asyncpg pool, `adapters.sql.pg_states`). History comes from the
    ledger itself.
    """

    def __init__(self, engine: AsyncEngine, reader: StateReader | None = None) -> None:
        self._engine = engine
        self._reader = reader or SqlStateReader(engine)

    async def current(
        self, subject_id: str, purpose: str, *, now: datetime
    ) -> ConsentRecord:
        """The subject's consent for `purpose` at `now`, with its deciding event."""
        async with reading(self._engine) as conn:
            row = (
                await conn.execute(
                    _FULL, {"subject_id": subject_id, "purpose": purpose}
                )
            ).first()
        return derive(cast(StateEvent | None, row), now)

    async def deciding(self, subject_id: str, purpose: str) -> tuple[str, str] | None:
        """The action and event id of the subject's deciding event for `purpose`
        (opt-outs and opt-ins included), if there is one."""
        async with reading(self._engine) as conn:
            row = (
                await conn.execute(
                    _FULL, {"subject_id": subject_id, "purpose": purpose}
                )
            ).first()
        return (row.action, row.event_id) if row else None

    async def lookup(
        self,
        subject_ids: Sequence[str],
        purpose: str | None,
        *,
        now: datetime,
        opt_out: bool = False,
    ) -> tuple[dict[str, ConsentRecord], set[str]]:
        """What decisions need, in one read: each subject's consent for `purpose`
        (if given; records without event id or `since`) and, when `opt_out`, those
        who turned personalisation off (A-01)."""
        purposes = [p for p in (purpose, PERSONALISATION if opt_out else None) if p]
        records = dict.fromkeys(subject_ids, NO_CONSENT)
        opted: set[str] = set()
        if not subject_ids or not purposes:
            return records, opted
        shared: dict[tuple[Any, ...], ConsentRecord] = {}  # few distinct per page
        CONSENT_LOOKUPS.inc()  # never cached: a withdrawal holds on the next request
        for row in await self._reader.states(subject_ids, purposes):
            if row[1] != purpose:
                if row[2] == ConsentAction.OPTED_OUT:
                    opted.add(row[0])
            elif row[7] is not None:  # an expiry: depends on `now`, not shared
                records[row[0]] = _decision_record(row, now)
            else:
                key = tuple(row[2:7])
                record = shared.get(key)
                if record is None:
                    record = shared[key] = _decision_record(row, now)
                records[row[0]] = record
        return records, opted

    async def history(
        self,
        subject_id: str,
        *,
        purpose: str | None = None,
        until: datetime | None = None,
    ) -> list[ConsentEvent]:
        """The subject's events, oldest first; optionally one purpose, up to `until`."""
        stmt = select(ConsentEvent).where(col(ConsentEvent.subject_id) == subject_id)
        if purpose is not None:
            stmt = stmt.where(col(ConsentEvent.purpose) == purpose)
        async with reading(self._engine) as conn:
            rows = (await conn.execute(stmt.order_by(col(ConsentEvent.id)))).all()
        events = [ConsentEvent.model_validate(r._mapping) for r in rows]
        if until is not None:
            events = [e for e in events if as_utc(e.recorded_at) <= until]
        return events

    async def as_of(
        self, subject_id: str, purpose: str, at: datetime
    ) -> tuple[ConsentRecord, list[ConsentEvent]]:
        """The consent for `purpose` as it stood at instant `at`, and the events behind it."""
        events = await self.history(subject_id, purpose=purpose, until=at)
        state_events = [e for e in events if e.action in _STATE_ACTIONS]
        return derive(state_events[-1] if state_events else None, at), events

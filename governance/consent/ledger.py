"""The consent ledger: append-only events; a subject's state is derived from them.

Reads answer "what is this subject's consent for this purpose now (or at instant
T)?" for one subject or a page of subjects. Writes are not done here:
`ConsentChange.statement()` builds the insert and the caller commits it in the
same transaction as its audit event (`audit.writer.AuditWriter.append`), so a
consent change is never stored without its audit event, nor the reverse.

State: the latest `granted`/`withdrawn`/`expired` event decides; a grant whose
`expires_at` has passed counts as expired even before a sweep records it.
Nothing here is cached: a withdrawal holds from the very next read, everywhere.
"""

import functools
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol, cast

from sqlalchemy import Insert, bindparam, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

from governance.consent.models import ConsentEvent
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

    def statement(self) -> tuple[str, datetime, Insert]:
        """A new event id, its timestamp, and the insert that records this change."""
        event_id, now = str(uuid.uuid4()), datetime.now(UTC)
        return event_id, now, insert(ConsentEvent).values(**self.values(event_id, now))


@dataclass(frozen=True)
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


# Only what `derive` needs, with the action list as constant SQL, so the hot path
# builds no ORM objects and binds two values into a statement compiled once.
_STATE_COLUMNS = (
    col(ConsentEvent.subject_id),
    col(ConsentEvent.action),
    col(ConsentEvent.event_id),
    col(ConsentEvent.notice_version),
    col(ConsentEvent.kind),
    col(ConsentEvent.grantor),
    col(ConsentEvent.scope),
    col(ConsentEvent.recorded_at),
    col(ConsentEvent.expires_at),
)
_IS_STATE = text("action IN ('granted', 'withdrawn', 'expired')")
_CURRENT = (
    select(*_STATE_COLUMNS)
    .where(
        col(ConsentEvent.subject_id) == bindparam("subject_id"),
        col(ConsentEvent.purpose) == bindparam("purpose"),
        _IS_STATE,
    )
    .order_by(col(ConsentEvent.id).desc())
    .limit(1)
)
_OPT = (
    select(col(ConsentEvent.action))
    .where(
        col(ConsentEvent.subject_id) == bindparam("subject_id"),
        col(ConsentEvent.purpose) == PERSONALISATION,
    )
    .order_by(col(ConsentEvent.id).desc())
    .limit(1)
)


class ConsentLedger:
    """Reads consent state from the governance store."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def current(
        self, subject_id: str, purpose: str, *, now: datetime
    ) -> ConsentRecord:
        """The subject's consent for `purpose` at `now`."""
        async with self._engine.connect() as conn:
            result = await conn.execute(
                _CURRENT, {"subject_id": subject_id, "purpose": purpose}
            )
            row = result.first()
        return derive(cast(StateEvent, row), now)

    async def current_many(
        self, subject_ids: Sequence[str], purpose: str, *, now: datetime
    ) -> dict[str, ConsentRecord]:
        """The consent for `purpose` of each subject in `subject_ids`."""
        if not subject_ids:
            return {}
        stmt = (
            select(*_STATE_COLUMNS)
            .where(
                col(ConsentEvent.subject_id).in_(subject_ids),
                col(ConsentEvent.purpose) == purpose,
                _IS_STATE,
            )
            .order_by(col(ConsentEvent.id))
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        latest = {r.subject_id: r for r in rows}  # ledger order: the latest event wins
        return {s: derive(cast(StateEvent, latest.get(s)), now) for s in subject_ids}

    async def opted_out(self, subject_id: str) -> bool:
        """Whether the subject turned personalisation off (A-01)."""
        async with self._engine.connect() as conn:
            action = (
                await conn.execute(_OPT, {"subject_id": subject_id})
            ).scalar_one_or_none()
        return action == ConsentAction.OPTED_OUT

    async def opted_out_many(self, subject_ids: Sequence[str]) -> set[str]:
        """Those of `subject_ids` who turned personalisation off."""
        if not subject_ids:
            return set()
        stmt = (
            select(col(ConsentEvent.subject_id), col(ConsentEvent.action))
            .where(
                col(ConsentEvent.subject_id).in_(subject_ids),
                col(ConsentEvent.purpose) == PERSONALISATION,
            )
            .order_by(col(ConsentEvent.id))
        )
        async with self._engine.connect() as conn:
            latest = dict((await conn.execute(stmt)).all())
        return {s for s, action in latest.items() if action == ConsentAction.OPTED_OUT}

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
        async with self._engine.connect() as conn:
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

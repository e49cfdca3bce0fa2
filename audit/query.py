"""Officer queries over the trail: filters, keyset order, cursors bound to their filters.

Events are ordered by (ts, chain_id, seq): listings newest first, exports and
scans oldest first. Pages are keyset pages: each starts just past the last
event of the one before, so a page costs the same wherever it is in the trail.

A listing's cursor names the last event of its page and a fingerprint of the
filters it was issued for. Presented with other filters (or taken from another
listing) it is refused (`invalid_cursor`), never silently applied to a query it
does not belong to. A position is not secret (an officer may list any event),
so cursors are not sealed; the fingerprint is a digest of the filters, whose
subject is already a keyed reference.
"""

import asyncio
import base64
import hashlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import ColumnElement, RowMapping, Table, and_, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

from audit.models import AuditEventRow, AuditSubjectRow
from audit.record import canonical_bytes
from governance.errors import InvalidCursor, InvalidRequest

_JSON_COLUMNS = ("fields", "obligations", "detail")
EVENTS: Table = AuditEventRow.metadata.tables["audit_events"]
_KEYS = (EVENTS.c.ts, EVENTS.c.chain_id, EVENTS.c.seq)
Position = tuple[str, str, int]


@dataclass(frozen=True)
class EventFilter:
    """Which events an officer asks for; every field optional, instants as stored."""

    subject_ref: str | None = None
    caller: str | None = None
    purpose: str | None = None
    dataset: str | None = None
    outcome: str | None = None
    reason: str | None = None
    kind: str | None = None
    kinds: tuple[str, ...] | None = None  # any of these (the consent center's reads)
    since: str | None = None
    until: str | None = None

    def fingerprint(self) -> str:
        """A short digest of these filters, which cursors carry."""
        return hashlib.sha256(canonical_bytes(asdict(self))).hexdigest()[:16]

    def given(self) -> dict[str, str]:
        """The filters that are set, by name."""
        return {k: v for k, v in asdict(self).items() if v is not None}


def conditions(f: EventFilter) -> list[ColumnElement[bool]]:
    """SQL conditions selecting the events `f` asks for."""
    conds: list[ColumnElement[bool]] = []
    for name in ("caller", "purpose", "dataset", "outcome", "reason", "kind"):
        value = getattr(f, name)
        if value is not None:
            conds.append(getattr(AuditEventRow, name) == value)
    if f.kinds is not None:
        conds.append(col(AuditEventRow.kind).in_(f.kinds))
    if f.subject_ref is not None:  # its own events, and queries that released it
        many = select(col(AuditSubjectRow.chain_id), col(AuditSubjectRow.seq)).where(
            col(AuditSubjectRow.subject_ref) == f.subject_ref
        )
        conds.append(
            or_(
                col(AuditEventRow.subject_ref) == f.subject_ref,
                tuple_(col(AuditEventRow.chain_id), col(AuditEventRow.seq)).in_(many),
            )
        )
    if f.since is not None:
        conds.append(col(AuditEventRow.ts) >= f.since)
    if f.until is not None:
        conds.append(col(AuditEventRow.ts) < f.until)
    return conds


def utc_instant(value: str | None, name: str) -> str | None:
    """An ISO 8601 date or time (UTC when no offset) in the trail's fixed-width form."""
    if value is None:
        return None
    instant = parse_instant(value)
    if instant is None:
        raise InvalidRequest(f"{name} must be an ISO 8601 date or time")
    return instant


def parse_instant(value: str) -> str | None:
    """`value` in the trail's fixed-width UTC form, or None if it is no ISO 8601 instant."""
    try:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        # isoformat, not strftime: %Y does not pad years before 1000 to four
        # digits on every platform, and the fixed width is what makes them sort.
        utc = parsed.astimezone(UTC).replace(tzinfo=None)
        return utc.isoformat(timespec="microseconds") + "Z"
    except (ValueError, OverflowError):
        return None


def encode_cursor(row: dict[str, Any]) -> str:
    """An opaque cursor pointing just past `row`."""
    raw = orjson.dumps([row["ts"], row["chain_id"], row["seq"]])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> Position:
    """The trail position a cursor of `encode_cursor` points past."""
    position = _position(cursor)
    if position is None:
        raise InvalidRequest("cursor is not one this server issued")
    return position


def bound_cursor(row: dict[str, Any], f: EventFilter) -> str:
    """A cursor past `row` that only a listing with the filters `f` accepts."""
    return f"{encode_cursor(row)}.{f.fingerprint()}"


def open_cursor(cursor: str, f: EventFilter) -> Position:
    """The position in a cursor of `bound_cursor`, if it was issued for `f`.

    Raises:
        InvalidCursor: the cursor is malformed, or was issued for other filters.
    """
    encoded, dot, fingerprint = cursor.rpartition(".")
    position = _position(encoded) if dot else None
    if position is None:
        raise InvalidCursor("cursor is not one this server issued for this listing")
    if fingerprint != f.fingerprint():
        raise InvalidCursor(
            "cursor was issued for other filters: ask again without it, or with "
            "the filters it came from"
        )
    return position


def _position(cursor: str) -> Position | None:
    try:
        ts, chain, seq = orjson.loads(
            base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        )
    except (ValueError, TypeError):
        return None
    if isinstance(ts, str) and isinstance(chain, str) and type(seq) is int:
        return ts, chain, seq
    return None


def beyond(after: Position, *, newest_first: bool) -> ColumnElement[bool]:
    """Events past `after` in (ts, chain, seq) order, either way (keyset pagination).

    The plain bound on `ts` is redundant but lets the store walk a `ts` index
    from the position instead of filtering from the start of the range.
    """
    ts, chain, seq = after
    t, c, s = _KEYS
    if newest_first:
        past = or_(t < ts, and_(t == ts, or_(c < chain, and_(c == chain, s < seq))))
        return and_(t <= ts, past)
    past = or_(t > ts, and_(t == ts, or_(c > chain, and_(c == chain, s > seq))))
    return and_(t >= ts, past)


async def list_events(
    engine: AsyncEngine, f: EventFilter, *, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """Return one page of matching events, newest first, and the next cursor.

    Raises:
        InvalidCursor: `cursor` is malformed or was issued for other filters.
    """
    conds = conditions(f)
    if cursor is not None:
        conds.append(beyond(open_cursor(cursor, f), newest_first=True))
    stmt = (
        select(AuditEventRow)
        .where(*conds)
        .order_by(*(k.desc() for k in _KEYS))
        .limit(limit + 1)
    )
    async with engine.connect() as conn:
        rows = [dict(r._mapping) for r in (await conn.execute(stmt)).all()]
    page = [_public(r) for r in rows[:limit]]
    return page, bound_cursor(rows[limit - 1], f) if len(rows) > limit else None


async def scan(
    engine: AsyncEngine,
    conds: Sequence[ColumnElement[bool]],
    columns: Sequence[ColumnElement[Any]],
    *,
    page: int,
) -> AsyncIterator[Sequence[RowMapping]]:
    """Every matching event, oldest first, as keyset pages of at most `page` rows.

    Only one page is held at a time, and each page is read on a connection of
    its own, so a consumer that takes its time (a slow download) holds no
    connection while it does. Between pages the event loop runs other work
    (SQLite statements run inline on it), so a long scan does not stall the
    proxy's requests.
    """
    names = {c.key for c in columns}
    selected = [*columns, *(k for k in _KEYS if k.key not in names)]
    after: Position | None = None
    while True:
        where = [*conds, beyond(after, newest_first=False)] if after else conds
        stmt = select(*selected).where(*where).order_by(*_KEYS).limit(page)
        async with engine.connect() as conn:
            rows = (await conn.execute(stmt)).mappings().all()
        if rows:
            yield rows
        if len(rows) < page:
            return
        last = rows[-1]
        after = (last["ts"], last["chain_id"], last["seq"])
        await asyncio.sleep(0)


def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {k: orjson.loads(v) if k in _JSON_COLUMNS else v for k, v in row.items()}

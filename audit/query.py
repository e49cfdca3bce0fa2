"""Officer queries over the trail: filters, newest first, keyset cursor pagination."""

import base64
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import ColumnElement, and_, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

from audit.models import AuditEventRow, AuditSubjectRow
from governance.errors import InvalidRequest

_JSON_COLUMNS = ("fields", "obligations", "detail")


@dataclass(frozen=True)
class EventFilter:
    """Which events an officer asks for; every field optional."""

    subject_ref: str | None = None
    caller: str | None = None
    purpose: str | None = None
    outcome: str | None = None
    since: str | None = None
    until: str | None = None


def _conditions(f: EventFilter) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = []
    for name in ("caller", "purpose", "outcome"):
        value = getattr(f, name)
        if value is not None:
            conds.append(getattr(AuditEventRow, name) == value)
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
    try:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    except (ValueError, OverflowError):
        raise InvalidRequest(f"{name} must be an ISO 8601 date or time") from None


def encode_cursor(row: dict[str, Any]) -> str:
    """An opaque cursor pointing just past `row`."""
    raw = orjson.dumps([row["ts"], row["chain_id"], row["seq"]])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, str, int]:
    """The trail position a cursor of `encode_cursor` points past."""
    try:
        ts, chain, seq = orjson.loads(
            base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        )
        if not (
            isinstance(ts, str) and isinstance(chain, str) and isinstance(seq, int)
        ):
            raise TypeError
    except (ValueError, TypeError):
        raise InvalidRequest("cursor is not one this server issued") from None
    return ts, chain, seq


def beyond(after: tuple[str, str, int], *, newest_first: bool) -> ColumnElement[bool]:
    """Events past `after` in (ts, chain, seq) order, either way (keyset pagination)."""
    ts, chain, seq = after
    t, c, s = col(AuditEventRow.ts), col(AuditEventRow.chain_id), col(AuditEventRow.seq)
    if newest_first:
        return or_(t < ts, and_(t == ts, or_(c < chain, and_(c == chain, s < seq))))
    return or_(t > ts, and_(t == ts, or_(c > chain, and_(c == chain, s > seq))))


async def list_events(
    engine: AsyncEngine, f: EventFilter, *, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """Return one page of matching events, newest first, and the next cursor."""
    if cursor:
        conds = [*_conditions(f), beyond(decode_cursor(cursor), newest_first=True)]
    else:
        conds = _conditions(f)
    stmt = (
        select(AuditEventRow)
        .where(*conds)
        .order_by(
            col(AuditEventRow.ts).desc(),
            col(AuditEventRow.chain_id).desc(),
            col(AuditEventRow.seq).desc(),
        )
        .limit(limit + 1)
    )
    async with engine.connect() as conn:
        rows = [dict(r._mapping) for r in (await conn.execute(stmt)).all()]
    page = [_public(r) for r in rows[:limit]]
    return page, encode_cursor(rows[limit - 1]) if len(rows) > limit else None


def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {k: orjson.loads(v) if k in _JSON_COLUMNS else v for k, v in row.items()}

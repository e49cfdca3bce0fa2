"""SQL aggregates over one month of the trail: each figure is a GROUP BY, never a row walk.

A month may hold a million events, but few distinct *shapes*: the same caller
reads the same fields for the same purpose with the same obligations again and
again. `shapes()` counts the month's events per shape (kind, caller, purpose,
outcome, reason, dataset, fields, obligations, bundle revision) and UTC hour in
one range scan on `ts`; the access, daily, denial, sensitive-data and revision
figures are all sums over those rows. The callers' baseline weeks, the distinct
subjects released, and two values kept in `detail` (the tags an audience query
filtered on, the policy's reasons for a refusal) are one aggregate query each.
A GROUP BY sorts on SQLite (no hash aggregate), so the month's rows are sorted
once, not once per figure.
"""

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import ColumnElement, String, cast, func, select, union_all
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col

from audit.models import AuditEventRow, AuditSubjectRow
from audit.report.month import ReportMonth, trail_instant

E = AuditEventRow
ACCESS_PREFIX = "access."
"""Governed data accesses: `access.read`, `access.query`, `access.detokenise`."""


@dataclass(frozen=True)
class Shape:
    """How many events of one UTC hour of the month share these columns."""

    kind: str
    caller: str | None
    purpose: str | None
    outcome: str
    reason: str | None
    dataset: str | None
    fields: tuple[str, ...]
    obligations: dict[str, str]
    revision: str | None
    hour: str
    """`YYYY-MM-DDTHH`, UTC."""
    count: int
    first: str
    last: str

    @property
    def access(self) -> bool:
        """Whether the event is a governed data access."""
        return self.kind.startswith(ACCESS_PREFIX)


@dataclass(frozen=True)
class HourCount:
    """Accesses of one caller in one UTC hour (`YYYY-MM-DDTHH`)."""

    caller: str
    hour: str
    count: int


@dataclass(frozen=True)
class DetailCount:
    """Events whose `detail` holds this list under a key, by purpose and outcome."""

    values: tuple[str, ...]
    purpose: str | None
    outcome: str
    count: int


def in_month(month: ReportMonth) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """The conditions selecting events of `month`."""
    return (
        col(E.ts) >= trail_instant(month.start),
        col(E.ts) < trail_instant(month.end),
    )


def is_access() -> ColumnElement[bool]:
    """The condition selecting governed data accesses."""
    return col(E.kind).startswith(ACCESS_PREFIX, autoescape=True)


_HOUR = func.substr(col(E.ts), 1, 13)
_SHAPE = (
    col(E.kind),
    col(E.caller),
    col(E.purpose),
    col(E.outcome),
    col(E.reason),
    col(E.dataset),
    col(E.fields),
    col(E.obligations),
    col(E.policy_revision),
    _HOUR,
)


async def shapes(conn: AsyncConnection, month: ReportMonth) -> list[Shape]:
    """Every distinct event shape per hour of the month, with its count and first/last instant."""
    stmt = (
        select(*_SHAPE, func.count(), func.min(col(E.ts)), func.max(col(E.ts)))
        .where(*in_month(month))
        .group_by(*_SHAPE)
    )
    async with _hashing(conn):
        rows = (await conn.execute(stmt)).all()
    texts: dict[str, Any] = {}  # the same JSON text recurs in many rows: parse it once
    return [_shape(row, texts) for row in rows]


@asynccontextmanager
async def _hashing(conn: AsyncConnection) -> AsyncIterator[None]:
    """PostgreSQL: count shapes in a hash table rather than by sorting the month.

    Its planner cannot know how few distinct shapes a million events hold (it
    guesses about one per event), so it would sort every row, on disk; the
    real shapes fit in memory many times over. `SET LOCAL` holds for this
    transaction only, and sorting is allowed again right after.
    """
    if conn.dialect.name != "postgresql":
        yield
        return
    await conn.exec_driver_sql("SET LOCAL enable_sort = off")
    try:
        yield
    finally:
        await conn.exec_driver_sql("SET LOCAL enable_sort = on")


async def baseline_hours(conn: AsyncConnection, month: ReportMonth) -> list[HourCount]:
    """Accesses per caller and UTC hour in the four weeks before the month."""
    stmt = (
        select(col(E.caller), _HOUR, func.count())
        .where(
            col(E.ts) >= trail_instant(month.baseline_start),
            col(E.ts) < trail_instant(month.start),
            is_access(),
            col(E.caller).is_not(None),
        )
        .group_by(col(E.caller), _HOUR)
    )
    return [HourCount(*row) for row in (await conn.execute(stmt)).all()]


async def released_subjects(conn: AsyncConnection, month: ReportMonth) -> int:
    """Distinct subjects whose data an allowed read or audience query released."""
    reads = select(col(E.subject_ref)).where(
        *in_month(month),
        is_access(),
        col(E.outcome) == "allowed",
        col(E.subject_ref).is_not(None),
    )
    released = select(col(AuditSubjectRow.subject_ref)).where(
        col(AuditSubjectRow.ts) >= trail_instant(month.start),
        col(AuditSubjectRow.ts) < trail_instant(month.end),
    )
    both = union_all(reads, released).subquery()
    distinct = select(both.c.subject_ref).group_by(both.c.subject_ref).subquery()
    count = (
        await conn.execute(select(func.count()).select_from(distinct))
    ).scalar_one()
    return int(count)


async def detail_lists(
    conn: AsyncConnection,
    month: ReportMonth,
    key: str,
    where: Sequence[ColumnElement[bool]],
) -> list[DetailCount]:
    """Events of the month matching `where`, counted by the list `detail[key]` holds."""
    member = _json_member(conn.dialect.name, key)
    stmt = (
        select(member, col(E.purpose), col(E.outcome), func.count())
        .where(*in_month(month), *where, member.is_not(None))
        .group_by(member, col(E.purpose), col(E.outcome))
    )
    rows = (await conn.execute(stmt)).all()
    return [
        DetailCount(_strings(_load(text)), purpose, outcome, count)
        for text, purpose, outcome, count in rows
    ]


async def first_access(conn: AsyncConnection, caller: str, before: str) -> str | None:
    """When `caller` first accessed data before the instant `before`, if ever."""
    stmt = (
        select(col(E.ts))
        .where(col(E.caller) == caller, col(E.ts) < before, is_access())
        .order_by(col(E.ts))
        .limit(1)
    )
    found: str | None = (await conn.execute(stmt)).scalar()
    return found


def _json_member(dialect: str, key: str) -> ColumnElement[Any]:
    """`detail[key]` as JSON text, by the store's own JSON functions."""
    if dialect == "postgresql":
        return cast(cast(col(E.detail), JSONB).op("->")(key), String)
    return func.json_extract(col(E.detail), f"$.{key}")


def _shape(row: Any, texts: dict[str, Any]) -> Shape:
    kind, caller, purpose, outcome, reason, dataset, fields, obligations = row[:8]
    revision, hour, count, first, last = row[8:]
    for text in (fields, obligations):
        if text not in texts:
            texts[text] = _load(text)
    mapping = texts[obligations]
    return Shape(
        kind,
        caller,
        purpose,
        outcome,
        reason,
        dataset,
        _strings(texts[fields]),
        mapping if isinstance(mapping, dict) else {},
        revision,
        hour,
        count,
        first,
        last,
    )


def _load(text: str | None) -> Any:
    """JSON text as a value; text that is not JSON (a forged row) as None."""
    try:
        return orjson.loads(text) if text is not None else None
    except orjson.JSONDecodeError:
        return None


def _strings(value: Any) -> tuple[str, ...]:
    """A detail list as strings; anything else (a hand-written detail) as nothing."""
    if not isinstance(value, list):
        return ()
    return tuple(str(v) for v in value)

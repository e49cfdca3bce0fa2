"""Consent changes of the month, and whether each withdrawal took effect (PIPL 15; C-09).

The consent ledger (`consent_events`) says who withdrew what and when; the
trail says what was accessed. The ledger names subjects by id and the trail by
keyed reference, so the withdrawals are brought to the trail: each one's
subject is turned into its reference here, in memory, and the windows go into a
temporary table the trail is joined with on its `(subject_ref, ts)` index. No
subject id leaves this module.

A withdrawal's *window* runs from the instant it was recorded until the same
subject granted the same purpose again (or the month's end). Within it:

- the first refused access for that subject and purpose is when the
  withdrawal was seen to take effect: its delay is reported (median, p95, max)
  for the withdrawals recorded this month;
- any access *allowed* for that subject and purpose during the month, read on
  its own or released by an audience query, is a finding: a withdrawal must
  hold from the very next request, so there must be none. Windows of earlier
  withdrawals that were never renewed are checked too.
"""

import math
import statistics
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, TypeAlias

from sqlalchemy import (
    Column,
    ColumnElement,
    Integer,
    MetaData,
    Select,
    SQLColumnExpression,
    String,
    Table,
    and_,
    func,
    insert,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Join
from sqlmodel import SQLModel, col

from audit.models import AuditEventRow, AuditSubjectRow
from audit.report.collect import is_access
from audit.report.figures import (
    AllowedAfterWithdrawal,
    Consent,
    ConsentChanges,
    Latency,
)
from audit.report.month import ReportMonth, trail_instant
from governance.consent.ledger import as_utc
from governance.consent.models import ConsentEvent

LISTED_FINDINGS = 100
"""At most this many findings are listed one by one; all are counted."""
_COUNTED = ("granted", "withdrawn", "expired")
E, S = AuditEventRow, AuditSubjectRow
_WINDOWS = Table(
    "report_withdrawal_windows",
    MetaData(),
    Column("k", Integer, primary_key=True),
    Column("subject_ref", String(64), nullable=False),
    Column("purpose", String(64), nullable=False),
    Column("since", String(32), nullable=False),
    Column("until", String(32), nullable=False),
    prefixes=["TEMPORARY"],
)
W = _WINDOWS.c
Column_: TypeAlias = SQLColumnExpression[Any]


@dataclass(frozen=True)
class Window:
    """From a withdrawal until a renewed grant or the month's end, in trail instants."""

    subject_ref: str
    purpose: str
    since: str
    until: str


async def consent_figures(
    conn: AsyncConnection, month: ReportMonth, subject_ref: Callable[[str], str]
) -> Consent:
    """Changes by purpose, the delay until withdrawals took effect, and any breach."""
    changes = await _changes(conn, month)
    windows = await _windows(conn, month, subject_ref)
    await conn.run_sync(lambda c: _WINDOWS.drop(c, checkfirst=True))
    await conn.run_sync(_WINDOWS.create)
    try:
        if windows:
            await conn.execute(
                insert(_WINDOWS),
                [{"k": k} | asdict(w) for k, w in enumerate(windows)],
            )
        if conn.dialect.name == "postgresql":
            await conn.exec_driver_sql(f"ANALYZE {_WINDOWS.name}")
        latency = await _latency(conn, month, windows)
        count, listed = await _violations(conn, month)
    finally:
        await conn.run_sync(_WINDOWS.drop)
    return Consent(changes, latency, count, listed)


async def _changes(
    conn: AsyncConnection, month: ReportMonth
) -> tuple[ConsentChanges, ...]:
    stmt = (
        select(col(ConsentEvent.purpose), col(ConsentEvent.action), func.count())
        .where(
            col(ConsentEvent.recorded_at) >= as_utc(month.start),
            col(ConsentEvent.recorded_at) < as_utc(month.end),
            col(ConsentEvent.action).in_(_COUNTED),
        )
        .group_by(col(ConsentEvent.purpose), col(ConsentEvent.action))
    )
    table: dict[str, Counter[str]] = {}
    for purpose, action, count in (await conn.execute(stmt)).all():
        table.setdefault(purpose, Counter())[action] = count
    return tuple(
        ConsentChanges(p, *(table[p][a] for a in _COUNTED)) for p in sorted(table)
    )


async def _windows(
    conn: AsyncConnection, month: ReportMonth, subject_ref: Callable[[str], str]
) -> list[Window]:
    """Windows of withdrawals recorded before the month's end and open during it."""
    events = SQLModel.metadata.tables[ConsentEvent.__tablename__]
    w, g = events.alias("w").c, events.alias("g").c
    renewed = (
        select(func.min(g.recorded_at))
        .where(
            g.subject_id == w.subject_id,
            g.purpose == w.purpose,
            g.id > w.id,
            g.action == "granted",
        )
        .scalar_subquery()
        .label("renewed")
    )
    ledger = (
        select(w.subject_id, w.purpose, w.recorded_at, renewed)
        .where(w.action == "withdrawn", w.recorded_at < as_utc(month.end))
        .subquery()
    )
    start = as_utc(month.start)
    stmt = select(ledger).where(
        or_(ledger.c.renewed.is_(None), ledger.c.renewed > start)
    )
    end = trail_instant(month.end)
    windows = [
        Window(
            subject_ref(subject),
            purpose,
            trail_instant(as_utc(at)),
            min(trail_instant(as_utc(renewed_at)), end) if renewed_at else end,
        )
        for subject, purpose, at, renewed_at in (await conn.execute(stmt)).all()
    ]
    return _merged(windows)


def _merged(windows: list[Window]) -> list[Window]:
    """Overlapping windows of a subject and purpose as one: no access counts twice."""
    out: list[Window] = []
    for w in sorted(windows, key=lambda w: (w.subject_ref, w.purpose, w.since)):
        last = out[-1] if out else None
        same = last and (last.subject_ref, last.purpose) == (w.subject_ref, w.purpose)
        if last and same and w.since < last.until:
            out[-1] = Window(
                w.subject_ref, w.purpose, last.since, max(last.until, w.until)
            )
            continue
        out.append(w)
    return out


async def _latency(
    conn: AsyncConnection, month: ReportMonth, windows: list[Window]
) -> Latency:
    start = trail_instant(month.start)
    stmt = (
        select(W.since, func.min(col(E.ts)))
        .select_from(_WINDOWS.join(E, _covers(col(E.subject_ref), col(E.ts))))
        .where(
            W.since >= start,
            col(E.purpose) == W.purpose,
            col(E.outcome) == "denied",
            is_access(),
        )
        .group_by(W.k, W.since)
    )
    delays = sorted(
        _seconds(since, refused) for since, refused in (await conn.execute(stmt)).all()
    )
    recorded = sum(1 for w in windows if w.since >= start)
    if not delays:
        return Latency(recorded, 0, None, None, None)
    p95 = delays[math.ceil(0.95 * len(delays)) - 1]  # nearest rank
    return Latency(recorded, len(delays), statistics.median(delays), p95, delays[-1])


async def _violations(
    conn: AsyncConnection, month: ReportMonth
) -> tuple[int, tuple[AllowedAfterWithdrawal, ...]]:
    """Accesses allowed inside a window during the month: all counted, the first listed.

    One query: single reads and audience-query releases together, their total
    counted by a window function over all of them before the listing's limit.
    """
    start = trail_instant(month.start)
    reads = _allowed(
        _WINDOWS.join(E, _covers(col(E.subject_ref), col(E.ts))),
        col(E.subject_ref),
        start,
    )
    released = _allowed(
        _WINDOWS.join(S, _covers(col(S.subject_ref), col(S.ts))).join(
            E, and_(col(E.chain_id) == col(S.chain_id), col(E.seq) == col(S.seq))
        ),
        col(S.subject_ref),
        start,
    )
    found = union_all(reads, released).subquery()
    stmt = (
        select(found, func.count().over())
        .order_by(found.c.ts, found.c.event_id, found.c.subject_ref)
        .limit(LISTED_FINDINGS)
    )
    rows = (await conn.execute(stmt)).all()
    listed = tuple(AllowedAfterWithdrawal(*row[:-1]) for row in rows)
    return (rows[0][-1] if rows else 0), listed


def _covers(ref: Column_, ts: Column_) -> ColumnElement[bool]:
    """A trail row about a window's subject, inside the window."""
    return and_(ref == W.subject_ref, ts > W.since, ts < W.until)


def _allowed(joined: Join, subject: Column_, start: str) -> Select[Any]:
    """Allowed accesses of the window's purpose during the month, one row per subject."""
    return (
        select(
            col(E.event_id),
            col(E.ts),
            col(E.kind),
            col(E.caller),
            col(E.purpose),
            subject.label("subject_ref"),
            W.since,
        )
        .select_from(joined)
        .where(
            col(E.purpose) == W.purpose,
            col(E.outcome) == "allowed",
            col(E.ts) >= start,
            is_access(),
        )
    )


def _seconds(since: str, until: str) -> float:
    parse = "%Y-%m-%dT%H:%M:%S.%fZ"
    delta = datetime.strptime(until, parse) - datetime.strptime(since, parse)
    return delta.total_seconds()

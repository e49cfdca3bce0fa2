"""Who accessed the subject's data: reads that returned it, and refused attempts.

Every attempt to read a subject is audited under their reference, even one
refused before its caller is known (a request with no key), so that officers
find probes by subject. The page must not let those attempts crowd out a read
that did return data: anyone who knows a customer id can make as many refused
requests as they like. So the two are asked for separately. Reads that were
allowed are listed one by one, newest first, with a limit of their own; refused
or unfinished attempts are counted and grouped by who tried, for what and why,
and attempts by callers that never proved who they are form one group, so a
flood of them is one line with a large count, never a page of noise.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

from audit.models import AuditEventRow
from audit.query import EventFilter, conditions, list_events
from governance.catalog import Catalog
from governance.center.labels import (
    ATTEMPT_LABELS,
    KIND_LABELS,
    REASON_LABELS,
    purpose_title,
)

ACCESS_KINDS = tuple(sorted(KIND_LABELS))
MAX_ACCESSES = 20
MAX_ATTEMPT_GROUPS = 10
UNKNOWN_CALLER = "未知访问方"


@dataclass(frozen=True)
class Access:
    """One read that returned the subject's data."""

    caller: str
    purpose: str
    action: str
    at: datetime


@dataclass(frozen=True)
class Attempts:
    """Refused or unfinished attempts alike in caller, purpose, kind and reason."""

    caller: str
    purpose: str | None
    action: str
    outcome: str  # denied or error
    reason: str | None
    count: int
    last: datetime


@dataclass(frozen=True)
class History:
    """What the page says about accesses to the subject's data."""

    accesses: tuple[Access, ...] = ()
    more_accesses: bool = False  # older reads exist beyond MAX_ACCESSES
    attempts: tuple[Attempts, ...] = ()
    attempt_total: int = 0  # every refused attempt, listed in `attempts` or not

    @property
    def unlisted_attempts(self) -> int:
        """Attempts counted in the total but in none of the listed groups."""
        return self.attempt_total - sum(a.count for a in self.attempts)


async def load_history(
    store: AsyncEngine, catalog: Catalog, subject_ref: str
) -> History:
    """The subject's reads and refused attempts, found among access events only:
    their own page views and consent changes share the trail and must not count."""
    reads, older = await list_events(
        store,
        EventFilter(subject_ref=subject_ref, kinds=ACCESS_KINDS, outcome="allowed"),
        limit=MAX_ACCESSES,
        cursor=None,
    )
    attempts, total = await _attempts(store, catalog, subject_ref)
    return History(
        accesses=tuple(_access(catalog, e) for e in reads),
        more_accesses=older is not None,
        attempts=attempts,
        attempt_total=total,
    )


async def _attempts(
    store: AsyncEngine, catalog: Catalog, subject_ref: str
) -> tuple[tuple[Attempts, ...], int]:
    conds = [
        *conditions(EventFilter(subject_ref=subject_ref, kinds=ACCESS_KINDS)),
        col(AuditEventRow.outcome) != "allowed",
    ]
    anonymous = col(AuditEventRow.caller).is_(None)
    # An unknown caller's purpose and reason say nothing the subject can act
    # on, and grouping by them would let a prober spread over many lines.
    keys = (
        col(AuditEventRow.caller),
        _unless(anonymous, col(AuditEventRow.purpose)),
        col(AuditEventRow.kind),
        col(AuditEventRow.outcome),
        _unless(anonymous, col(AuditEventRow.reason)),
    )
    last = func.max(col(AuditEventRow.ts)).label("last")
    grouped = (
        select(*keys, func.count().label("n"), last)
        .where(*conds)
        .group_by(*keys)
        .order_by(last.desc())
        .limit(MAX_ATTEMPT_GROUPS)
    )
    counted = select(func.count()).select_from(AuditEventRow).where(*conds)
    async with store.connect() as conn:
        rows = (await conn.execute(grouped)).all()
        total = (await conn.execute(counted)).scalar_one()
    groups = tuple(_group(catalog, *row) for row in rows)
    return groups, int(total)


def _unless(anonymous: ColumnElement[bool], column: Any) -> Any:
    return case((anonymous, None), else_=column)


def _purpose(catalog: Catalog, name: str | None) -> str | None:
    purpose = catalog.purposes.get(name or "")
    return purpose_title(purpose.description, purpose.name) if purpose else name


def _access(catalog: Catalog, event: dict[str, Any]) -> Access:
    return Access(
        caller=event["caller"] or UNKNOWN_CALLER,
        purpose=_purpose(catalog, event["purpose"]) or "未声明",
        action=KIND_LABELS[event["kind"]],
        at=datetime.fromisoformat(event["ts"]),
    )


def _group(
    catalog: Catalog,
    caller: str | None,
    purpose: str | None,
    kind: str,
    outcome: str,
    reason: str | None,
    count: int,
    last: str,
) -> Attempts:
    return Attempts(
        caller=caller or UNKNOWN_CALLER,
        purpose=_purpose(catalog, purpose),
        action=ATTEMPT_LABELS[kind],
        outcome=outcome,
        reason=REASON_LABELS.get(reason or ""),
        count=count,
        last=datetime.fromisoformat(last),
    )

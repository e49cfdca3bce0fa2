"""What a consent import must know from the stores, asked in batches, never per row.

`existing_subjects()` asks each catalogued dataset which of the ids it holds,
and which of them are under 14;
`latest_states()` reads the latest state event (granted, withdrawn, expired)
per subject and purpose from `consent_current`; `last_withdrawals()` the time
of each pair's latest withdrawal from the ledger. Each sends one query per 500
ids.
"""

from collections.abc import AsyncIterator, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    ColumnClause,
    Row,
    String,
    bindparam,
    column,
    func,
    select,
    table,
    type_coerce,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel import col

from governance.catalog import Catalog, Dataset
from governance.consent.ledger import ConsentAction, stored_instant
from governance.consent.models import ConsentCurrent, ConsentEvent
from governance.errors import DataSourceUnavailable
from governance.pipeline import facts_columns
from governance.subjects import minor_of

CHUNK = 500
_STATES = (ConsentAction.GRANTED, ConsentAction.WITHDRAWN, ConsentAction.EXPIRED)
_LATEST = select(
    col(ConsentCurrent.subject_id),
    col(ConsentCurrent.purpose),
    col(ConsentCurrent.action),
    col(ConsentCurrent.event_id),
    col(ConsentCurrent.notice_version),
    # Raw values, converted only for the pairs asked about (`stored_instant`).
    type_coerce(col(ConsentCurrent.recorded_at), String),
    type_coerce(col(ConsentCurrent.expires_at), String),
).where(
    col(ConsentCurrent.subject_id).in_(bindparam("ids", expanding=True)),
    col(ConsentCurrent.purpose).in_(bindparam("purposes", expanding=True)),
    # No `action IN (...)` here: SQLite would answer it from the expiry index
    # (action first), reading every row with those actions for each chunk,
    # instead of one primary-key search per subject and purpose. The action is
    # checked on the rows that come back.
)


_WITHDRAWN = (
    select(
        col(ConsentEvent.subject_id),
        col(ConsentEvent.purpose),
        func.max(type_coerce(col(ConsentEvent.recorded_at), String)),
    )
    .where(
        col(ConsentEvent.subject_id).in_(bindparam("ids", expanding=True)),
        col(ConsentEvent.purpose).in_(bindparam("purposes", expanding=True)),
        col(ConsentEvent.action) == ConsentAction.WITHDRAWN.value,
    )
    .group_by(col(ConsentEvent.subject_id), col(ConsentEvent.purpose))
)


@dataclass(frozen=True)
class LedgerState:
    """The latest state event of one subject and purpose."""

    action: str
    event_id: str
    notice_version: str
    recorded_at: datetime
    expires_at: datetime | None

    def live(self, now: datetime) -> bool:
        """Whether this is a grant still in force at `now`."""
        return self.action == ConsentAction.GRANTED and (
            self.expires_at is None or self.expires_at > now
        )


def chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    """`items` in slices of at most `CHUNK`."""
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


async def existing_subjects(
    catalog: Catalog,
    sources: Mapping[str, AsyncEngine],
    ids: Collection[str],
    today: date,
) -> dict[str, bool | None]:
    """Those of `ids` that some catalogued dataset holds, each with whether it is
    under 14 (None: unknown), told as governed reads tell it: `minor_of` over
    the same `facts_columns`."""
    found: dict[str, bool | None] = {}
    for dataset in catalog.datasets.values():
        wanted = sorted(i for i in ids if i not in found)
        try:
            async with sources[dataset.source].connect() as conn:
                async for facts in _rows(conn, dataset, facts_columns(dataset), wanted):
                    key = str(facts[dataset.subject_key])
                    found[key] = minor_of(facts, dataset, today)
        except (SQLAlchemyError, OSError) as exc:
            raise DataSourceUnavailable(
                f"data source '{dataset.source}' failed ({type(exc).__name__})"
            ) from None
    return found


async def _rows(
    conn: AsyncConnection, dataset: Dataset, names: Sequence[str], ids: Sequence[str]
) -> AsyncIterator[dict[str, Any]]:
    """`names` (the subject key first) of the rows of `ids`, a chunk per query."""
    cols: list[ColumnClause[Any]] = [column(n) for n in names]
    stmt = (
        select(*cols)
        .select_from(table(dataset.table, *cols, schema=dataset.schema))
        .where(cols[0].in_(bindparam("ids", expanding=True)))
    )
    for part in chunks(ids):
        for row in await conn.execute(stmt, {"ids": list(part)}):
            yield dict(zip(names, row, strict=True))


async def latest_states(
    store: AsyncEngine, pairs: Collection[tuple[str, str]]
) -> dict[tuple[str, str], LedgerState]:
    """The latest state event of each (subject, purpose) in `pairs` that has one."""
    purposes = sorted({p for _, p in pairs})
    latest: dict[tuple[str, str], Row[str, str, str, str, str, str, str]] = {}
    async with store.connect() as conn:
        for part in chunks(sorted({s for s, _ in pairs})):
            params = {"ids": list(part), "purposes": purposes}
            for row in await conn.execute(_LATEST, params):
                latest[row[0], row[1]] = row
    return {
        pair: LedgerState(
            action,
            event_id,
            notice,
            stored_instant(at),
            stored_instant(expires) if expires else None,
        )
        for pair, (_, _, action, event_id, notice, at, expires) in latest.items()
        if pair in pairs and action in _STATES
    }


async def last_withdrawals(
    store: AsyncEngine, pairs: Collection[tuple[str, str]]
) -> dict[tuple[str, str], datetime]:
    """When each (subject, purpose) of `pairs` that was ever withdrawn was last."""
    purposes = sorted({p for _, p in pairs})
    found: dict[tuple[str, str], datetime] = {}
    async with store.connect() as conn:
        for part in chunks(sorted({s for s, _ in pairs})):
            params = {"ids": list(part), "purposes": purposes}
            for subject, purpose, at in await conn.execute(_WITHDRAWN, params):
                if (subject, purpose) in pairs:
                    found[subject, purpose] = stored_instant(at)
    return found

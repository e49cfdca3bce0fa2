"""Which consent histories may go: those that lapsed longer ago than the floor (C-11).

A subject's history for one purpose is kept while the consent is in force
(granted, or a personalisation opt-out that still holds) and for at least
`consent_days_after_lapse` after it lapsed: withdrawn, expired, or opted back
in. Past that, the whole history of the pair is deleted together with its
`consent_current` row, and the pair reads as "no consent", which is what a
lapsed consent means anyway.

The deletes name the deciding event they planned against, so a grant recorded
between planning and deleting survives: its event has a higher ledger id, and
`consent_current` then points at it and is left alone.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import Executable
from sqlmodel import col

from governance.consent.ledger import ConsentAction, stored_instant
from governance.consent.models import ConsentCurrent, ConsentEvent

# The actions after which a pair holds no consent: the clock of C-11 runs from them.
LAPSED = (
    ConsentAction.WITHDRAWN.value,
    ConsentAction.EXPIRED.value,
    ConsentAction.OPTED_IN.value,
)


@dataclass(frozen=True)
class LapsedPair:
    """One subject and purpose whose consent lapsed at `lapsed_at`."""

    subject_id: str
    purpose: str
    ledger_id: int
    lapsed_at: datetime


async def lapsed_pairs(
    store: AsyncEngine, *, now: datetime, keep_days: int, limit: int | None
) -> list[LapsedPair]:
    """Up to `limit` (None: all) pairs whose consent lapsed more than `keep_days` before `now`."""
    cutoff = now - timedelta(days=keep_days)
    stmt = (
        select(
            col(ConsentCurrent.subject_id),
            col(ConsentCurrent.purpose),
            col(ConsentCurrent.ledger_id),
            col(ConsentEvent.recorded_at),
        )
        .join(ConsentEvent, col(ConsentEvent.id) == col(ConsentCurrent.ledger_id))
        .where(
            col(ConsentCurrent.action).in_(LAPSED),
            col(ConsentEvent.recorded_at) < cutoff,
        )
        .order_by(col(ConsentCurrent.ledger_id))
        .limit(limit)
    )
    async with store.connect() as conn:
        rows = (await conn.execute(stmt)).all()
    return [LapsedPair(r[0], r[1], r[2], stored_instant(r[3])) for r in rows]


def deletions(
    pairs: list[LapsedPair],
) -> list[tuple[Executable, list[dict[str, object]]]]:
    """The statements that delete these pairs' histories, for one transaction."""
    if not pairs:
        return []
    params: list[dict[str, object]] = [
        {"b_subject": p.subject_id, "b_purpose": p.purpose, "b_ledger": p.ledger_id}
        for p in pairs
    ]
    events = delete(ConsentEvent).where(
        col(ConsentEvent.subject_id) == bindparam("b_subject"),
        col(ConsentEvent.purpose) == bindparam("b_purpose"),
        col(ConsentEvent.id) <= bindparam("b_ledger"),
    )
    current = delete(ConsentCurrent).where(
        col(ConsentCurrent.subject_id) == bindparam("b_subject"),
        col(ConsentCurrent.purpose) == bindparam("b_purpose"),
        col(ConsentCurrent.ledger_id) == bindparam("b_ledger"),
    )
    return [(current, params), (events, params)]

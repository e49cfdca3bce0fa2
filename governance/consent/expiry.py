"""Record `expired` events for grants past their `expires_at` (the ledger sweep).

The consent check already treats such a grant as expired the moment it passes
its expiry; the sweep writes that fact into the append-only history, so the
ledger and the consent center read as a complete story. Each expiry is
committed with its own audit event, all in one transaction.
"""

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

from audit.record import AuditDraft
from audit.writer import AuditWriter
from governance.consent.ledger import ConsentAction, ConsentChange
from governance.consent.models import ConsentCurrent, ConsentEvent
from governance.errors import AppendRejected
from governance.types import Actor


async def expired_grants(store: AsyncEngine, now: datetime) -> list[ConsentEvent]:
    """Grants that are each subject's latest state event and are past their expiry."""
    stmt = (
        select(ConsentEvent)
        .join(ConsentCurrent, col(ConsentCurrent.ledger_id) == col(ConsentEvent.id))
        .where(
            col(ConsentCurrent.action) == ConsentAction.GRANTED.value,
            col(ConsentCurrent.expires_at).is_not(None),
            col(ConsentCurrent.expires_at) <= now,
        )
        .order_by(col(ConsentEvent.id))
    )
    async with store.connect() as conn:
        rows = (await conn.execute(stmt)).all()
    return [ConsentEvent.model_validate(r._mapping) for r in rows]


async def sweep(
    store: AsyncEngine,
    writer: AuditWriter,
    subject_ref: Callable[[str], str],
    *,
    now: datetime,
) -> int:
    """Append an `expired` event (and its audit event) for each lapsed grant.

    When a grant was ended meanwhile (a withdrawal, or another sweep, committed
    between the read and the write), the store refuses the whole sweep and it
    runs once more from what is then lapsed.
    """
    try:
        return await _sweep_once(store, writer, subject_ref, now=now)
    except AppendRejected:
        return await _sweep_once(store, writer, subject_ref, now=now)


async def _sweep_once(
    store: AsyncEngine,
    writer: AuditWriter,
    subject_ref: Callable[[str], str],
    *,
    now: datetime,
) -> int:
    grants = await expired_grants(store, now)
    if not grants:
        return 0
    statements, drafts = [], []
    for grant in grants:
        change = ConsentChange(
            subject_id=grant.subject_id,
            purpose=grant.purpose,
            action=ConsentAction.EXPIRED,
            notice_version=grant.notice_version,
            method="expiry",
            channel="api",
            recorded_by=Actor.EXPIRY_SWEEP,
            scope=(),
            kind=grant.kind,
            grantor=grant.grantor,
            refers_to=grant.event_id,
        )
        event_id, _, stmt = change.statement()
        statements.append(stmt)
        drafts.append(
            AuditDraft(
                kind="consent.expired",
                outcome="allowed",
                caller=Actor.EXPIRY_SWEEP,
                purpose=grant.purpose,
                subject_ref=subject_ref(grant.subject_id),
                detail={"consent_event_ids": [event_id], "refers_to": grant.event_id},
            )
        )
    await writer.append_all(drafts, also=statements)
    return len(grants)

"""Verify the whole trail: every chain, event by event, against its recorded head."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel import col

from audit.chain import ChainFault, verify_chain
from audit.models import AuditChain, AuditEventRow

_PAGE = 5000


@dataclass(frozen=True)
class VerifyReport:
    """Whether the trail is intact, how many events were checked, and the first fault."""

    ok: bool
    events: int
    chains: int
    first_bad: ChainFault | None


async def verify_trail(engine: AsyncEngine) -> VerifyReport:
    """Walk every chain; stop at the first fault."""
    total = 0
    async with engine.connect() as conn:
        chains = (
            await conn.execute(select(AuditChain).order_by(col(AuditChain.started_at)))
        ).all()
        known = {c.chain_id for c in chains}
        for chain in chains:
            rows = [r async for r in _rows(conn, chain.chain_id)]
            count, fault = verify_chain(
                chain.chain_id, rows, head_seq=chain.head_seq, head_hash=chain.head_hash
            )
            total += count
            if fault:
                return VerifyReport(False, total, len(chains), fault)
        orphan = await _orphan(conn, known)
    if orphan is not None:
        return VerifyReport(False, total, len(chains), orphan)
    return VerifyReport(True, total, len(chains), None)


async def _rows(conn: AsyncConnection, chain_id: str) -> AsyncIterator[dict[str, Any]]:
    last = 0
    while True:
        stmt = (
            select(AuditEventRow)
            .where(
                col(AuditEventRow.chain_id) == chain_id, col(AuditEventRow.seq) > last
            )
            .order_by(col(AuditEventRow.seq))
            .limit(_PAGE)
        )
        page = (await conn.execute(stmt)).all()
        for r in page:
            yield dict(r._mapping)
        if len(page) < _PAGE:
            return
        last = page[-1].seq


async def _orphan(conn: AsyncConnection, known: set[str]) -> ChainFault | None:
    """An event whose chain is not registered was inserted from outside a writer."""
    stmt = select(
        col(AuditEventRow.chain_id), col(AuditEventRow.seq), col(AuditEventRow.event_id)
    )
    if known:
        stmt = stmt.where(col(AuditEventRow.chain_id).not_in(known))
    row = (await conn.execute(stmt.limit(1))).first()
    return ChainFault(row[0], row[1], row[2], "unknown_chain") if row else None

"""Verify the whole trail: every chain event by event, then the signed checkpoints.

`verify_trail()` reads one consistent snapshot of the store (so writers and
sealers may go on meanwhile) and stops at the first fault:

1. the checkpoints and the Merkle tree they sign (`audit.checkpoint_verify`):
   signatures (when public keys are given), no checkpoint missing, no sealed
   chain or event deleted, every sealed event as it was when it was signed;
   the sealed events are read there, once, in leaf order, and each is checked
   against its chain's links (`audit.chain.ChainWalk`) on the way;
2. the rest of each chain, in the order the chains started, streamed in
   pages, to its recorded head;
3. no event of an unregistered chain, nor one numbered before its chain began;
   every decision shape an event names is stored (`missing_shape`); the
   subject index lists exactly the subjects each event names
   (`audit.subject_index`); the trail was not emptied (`trail_emptied`: the
   consent ledger holds changes, but the trail no consent event, though each
   change commits with one);
4. every tombstone left by retention is vouched for by a purge record that
   holds (`audit.purges.check_purges`);
5. every decision shape (the policy input and result an event names by its
   hashed `decision_shape`) still gives its id.

Every walk also checks instants: an event dated before its chain registered
(`before_chain_start`) or after the checkpoint that sealed it (`after_seal`)
was not made by the chain's writer (`audit.chain`).

Events after the latest checkpoint (`unsealed`) are protected by their chains
only until the next seal; a report says how many there are.
"""

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel import col

from audit.chain import ChainFault, ChainWalk
from audit.checkpoint import Checkpoint
from audit.checkpoint_verify import CheckpointFault, verify_seals
from audit.models import AuditChain, AuditEventRow
from audit.purges import PurgeFault, check_purges
from audit.record import shape_id
from audit.subject_index import index_fault

_PAGE = 5000
_COLUMNS = tuple(AuditEventRow.model_fields)  # chain_id, seq, ...: seq is second
_PAGE_OF_CHAIN = text(
    f"SELECT {', '.join(_COLUMNS)} FROM audit_events"  # noqa: S608 - fixed names
    f" WHERE chain_id = :chain AND seq > :after ORDER BY seq LIMIT {_PAGE}"
)


_UNSTORED_SHAPE = text(  # an event naming a decision shape that is not stored
    "SELECT e.chain_id, e.seq, e.event_id FROM audit_events e"
    " LEFT JOIN decision_shapes s ON s.shape_id = e.decision_shape"
    " WHERE e.decision_shape IS NOT NULL AND s.shape_id IS NULL LIMIT 1"
)
_LEDGER_CHANGE = text("SELECT 1 FROM consent_events LIMIT 1")
_CONSENT_EVENT = text("SELECT 1 FROM audit_events WHERE kind LIKE 'consent.%' LIMIT 1")
_SHAPES = text(
    "SELECT shape_id, revision, input, result FROM decision_shapes"  # noqa: S608
    f" WHERE shape_id > :after ORDER BY shape_id LIMIT {_PAGE}"
)


@dataclass(frozen=True)
class VerifyReport:
    """Whether the trail is intact, what was checked, and the first fault.

    `first_bad` names an event (chain, seq, event id, problem);
    `checkpoint_fault` a fault of the checkpoints or the tree.
    """

    ok: bool
    events: int
    chains: int
    first_bad: ChainFault | None
    checkpoints: int = 0
    sealed: int = 0
    latest: Checkpoint | None = None
    checkpoint_fault: CheckpointFault | None = None
    signatures_checked: bool = False
    purge_fault: PurgeFault | None = None
    altered_shape: str | None = None  # a decision shape that does not hold its id

    @property
    def unsealed(self) -> int:
        """Events no checkpoint covers yet."""
        return max(self.events - self.sealed, 0)

    def as_json(self) -> dict[str, Any]:
        """The report as the API returns it."""
        latest = self.latest
        return {
            "ok": self.ok,
            "events": self.events,
            "chains": self.chains,
            "first_bad": asdict(self.first_bad) if self.first_bad else None,
            "checkpoints": self.checkpoints,
            "sealed": self.sealed,
            "unsealed": self.unsealed,
            "latest_checkpoint": None
            if latest is None
            else {
                "number": latest.number,
                "tree_size": latest.tree_size,
                "root_hash": latest.root_hash,
                "sealed_at": latest.sealed_at,
            },
            "checkpoint_fault": asdict(self.checkpoint_fault)
            if self.checkpoint_fault
            else None,
            "signatures_checked": self.signatures_checked,
            "purge_fault": asdict(self.purge_fault) if self.purge_fault else None,
            "altered_shape": self.altered_shape,
        }


async def verify_trail(
    engine: AsyncEngine, *, public_keys: Sequence[str] | None = None
) -> VerifyReport:
    """Check the checkpoints and sealed events, then the rest of each chain; stop at
    the first fault.

    Args:
        engine: the governance store.
        public_keys: PEMs of the audit signing key (all versions in use); without
            them checkpoint signatures are not checked.
    """
    async with _snapshot(engine) as conn:
        chains = (
            await conn.execute(select(AuditChain).order_by(col(AuditChain.started_at)))
        ).all()
        walks = {c.chain_id: ChainWalk(c.chain_id, c.started_at) for c in chains}
        heads = {c.chain_id: c.head_seq for c in chains}
        seals = await verify_seals(conn, walks, heads, public_keys)
        fault = seals.chain_fault
        purge_fault = None
        if fault is None and seals.fault is None:
            fault = (
                await _rest(conn, chains, walks)
                or await _stray(conn, set(walks))
                or await _unstored_shape(conn)
                or await index_fault(conn)
                or await _emptied(conn)
            )
        altered_shape = None
        if fault is None and seals.fault is None:
            purge_fault = await check_purges(conn, public_keys)
            altered_shape = await _altered_shape(conn)
    return VerifyReport(
        ok=fault is None
        and seals.fault is None
        and purge_fault is None
        and altered_shape is None,
        events=sum(w.count for w in walks.values()),
        chains=len(chains),
        first_bad=fault,
        checkpoints=seals.checkpoints,
        sealed=seals.sealed,
        latest=seals.latest,
        checkpoint_fault=seals.fault,
        signatures_checked=public_keys is not None,
        purge_fault=purge_fault,
        altered_shape=altered_shape,
    )


async def _altered_shape(conn: AsyncConnection) -> str | None:
    """The first decision shape (an event's policy input and result, named by
    the event's hashed `decision_shape`) whose content no longer gives its id."""
    last = ""
    while True:
        page = (await conn.execute(_SHAPES, {"after": last})).all()
        for found, revision, given, result in page:
            if shape_id(revision, given, result) != found:
                return str(found)
        if len(page) < _PAGE:
            return None
        last = page[-1][0]


async def _unstored_shape(conn: AsyncConnection) -> ChainFault | None:
    """The first event naming a decision shape that is gone (`missing_shape`):
    its decision can no longer be read back, only its id."""
    row = (await conn.execute(_UNSTORED_SHAPE)).first()
    return ChainFault(row[0], row[1], row[2], "missing_shape") if row else None


async def _emptied(conn: AsyncConnection) -> ChainFault | None:
    """Whether the trail lost every consent event while the ledger kept changes
    (`trail_emptied`): each change commits with its audit event, so a store
    that ever recorded one has one in its trail (retention tombstones events,
    keeping their kind). A fresh store has neither, so this never fires on it."""
    if (await conn.execute(_LEDGER_CHANGE)).first() is None:
        return None
    if (await conn.execute(_CONSENT_EVENT)).first() is not None:
        return None
    return ChainFault("", 0, None, "trail_emptied")


@asynccontextmanager
async def _snapshot(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A read-only transaction that sees one state of the store throughout."""
    async with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn = await conn.execution_options(isolation_level="REPEATABLE READ")
            await conn.begin()
        else:  # SQLite (WAL): the first read fixes what the transaction sees
            await conn.exec_driver_sql("BEGIN")
        try:
            yield conn
        finally:
            await conn.rollback()


async def _rest(
    conn: AsyncConnection, chains: Sequence[Any], walks: dict[str, ChainWalk]
) -> ChainFault | None:
    """Walk each chain on from its last sealed event to its recorded head."""
    for chain in chains:
        walk = walks[chain.chain_id]
        fault = await _walk(conn, walk) or walk.finish(
            head_seq=chain.head_seq, head_hash=chain.head_hash
        )
        if fault:
            return fault
    return None


async def _walk(conn: AsyncConnection, walk: ChainWalk) -> ChainFault | None:
    """Feed the chain's rows after those already walked to `walk`, page by page."""
    last = walk.next_seq - 1
    while True:
        page = (
            await conn.execute(_PAGE_OF_CHAIN, {"chain": walk.chain_id, "after": last})
        ).all()
        for row in page:
            fault = walk.check(dict(zip(_COLUMNS, row, strict=True)))
            if fault:
                return fault
        if len(page) < _PAGE:
            return None
        last = page[-1][1]


async def _stray(conn: AsyncConnection, known: set[str]) -> ChainFault | None:
    """An event no writer made: of a chain that is not registered
    (`unknown_chain`), or numbered before a chain's first event, where no walk
    looks (`before_genesis`)."""
    stmt = select(
        col(AuditEventRow.chain_id), col(AuditEventRow.seq), col(AuditEventRow.event_id)
    )
    row = (
        await conn.execute(
            stmt.where(col(AuditEventRow.chain_id).not_in(known)).limit(1)
        )
        if known
        else await conn.execute(stmt.limit(1))
    ).first()
    if row:
        return ChainFault(row[0], row[1], row[2], "unknown_chain")
    row = (await conn.execute(stmt.where(col(AuditEventRow.seq) < 1).limit(1))).first()
    return ChainFault(row[0], row[1], row[2], "before_genesis") if row else None

"""Verify the signed checkpoints, and the Merkle tree they sign, against the stored events.

`verify_seals()` checks, in this order, and stops at the first fault:

1. the checkpoints: each a well-formed document whose columns agree with its
   signed body, numbered 1, 2, 3… without a gap, naming the digest of the one
   before, the tree growing, and (given public keys) signed by one of them;
2. no leaf past the latest checkpoint (leaves and their checkpoint are stored
   in one transaction: leaves past it mean a checkpoint was removed);
3. every chain a checkpoint names is still registered, its head not below the
   event it sealed (a chain deleted whole is caught here);
4. the tree, streamed in pages that end at each checkpoint's size: every
   sealed event still exists and continues its chain (each event is read once,
   here, and handed to its chain's `ChainWalk`), the tree of the events'
   hashes gives each checkpoint's signed root, and the stored leaves and nodes
   (what proofs are built from) agree with it. An event dated after the
   checkpoint that sealed it (beyond `audit.chain.CLOCK_SKEW`) was not there
   when it was signed, whatever its links say (`after_seal`).

A root that does not match is placed as precisely as the store allows: at the
first event whose hash differs from its leaf (the event was rewritten after it
was sealed), else in the first stored node that differs (events and leaves were
rewritten together), else over the checkpoint's leaves. When the root matches
but a leaf or node differs, the events are as signed and only the proof data
was changed.
"""

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import and_, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col

from audit.chain import CLOCK_SKEW, ChainFault, ChainWalk, dated_after, shifted
from audit.checkpoint import (
    Checkpoint,
    check_checkpoint,
    checkpoint_digest,
    key_ring,
    parse_checkpoint,
)
from audit.checkpoint_store import NODE_LEVEL, checkpoint_doc
from audit.merkle import TreeBuilder, leaf_hash
from audit.models import (
    AuditCheckpointRow,
    AuditEventRow,
    AuditLeafRow,
    AuditNodeRow,
)

_PAGE = 10_000
_COLUMNS = tuple(AuditEventRow.model_fields)
_LATER = text(
    "SELECT seq FROM audit_events WHERE chain_id = :chain AND seq > :seq LIMIT 1"
)
_LEAVES = text(  # each leaf with its event's stored columns (NULL: no such event)
    "SELECT l.leaf_index, l.chain_id, l.seq, l.hash, "  # noqa: S608 - fixed names
    + ", ".join(f"e.{c}" for c in _COLUMNS)
    + " FROM audit_leaves l LEFT JOIN audit_events e"
    " ON e.chain_id = l.chain_id AND e.seq = l.seq"
    " WHERE l.leaf_index >= :start AND l.leaf_index < :end ORDER BY l.leaf_index"
)


@dataclass(frozen=True)
class CheckpointFault:
    """The first fault in the checkpoints or the tree, and the leaves it lies in."""

    problem: str
    checkpoint: int | None
    leaves: tuple[int, int] | None
    detail: str


@dataclass(frozen=True)
class SealCheck:
    """How many checkpoints and sealed events were checked, and the first fault."""

    checkpoints: int
    sealed: int
    latest: Checkpoint | None
    chain_fault: ChainFault | None = None
    fault: CheckpointFault | None = None


Fault = ChainFault | CheckpointFault


async def verify_seals(
    conn: AsyncConnection,
    walks: Mapping[str, ChainWalk],
    heads: Mapping[str, int],
    public_keys: Sequence[str] | None,
) -> SealCheck:
    """Check checkpoints and tree against the events.

    Every sealed event is read once, in leaf order (each chain's in seq order),
    and fed to its chain's walk in `walks`, so the chains' checks of sealed
    events happen on the way; the caller walks on from there.

    Args:
        conn: a connection holding one snapshot of the store.
        walks: chain id -> a fresh `ChainWalk`, for every registered chain.
        heads: chain id -> head seq, as registered.
        public_keys: PEMs; signatures are checked only when given.
    """
    fault: Fault | None
    checkpoints, fault = await _read_checkpoints(conn, public_keys)
    latest = checkpoints[-1] if checkpoints else None
    if fault is None:
        fault = await _unsigned_leaves(conn, latest)
    if fault is None:
        fault = _sealed_chains(checkpoints, heads)
    sealed = 0
    if fault is None:
        walk = _Walk(checkpoints, walks)
        fault = await walk.run(conn)
        sealed = walk.builder.size
    if isinstance(fault, ChainFault):
        return SealCheck(len(checkpoints), sealed, latest, chain_fault=fault)
    return SealCheck(len(checkpoints), sealed, latest, fault=fault)


async def _read_checkpoints(
    conn: AsyncConnection, public_keys: Sequence[str] | None
) -> tuple[list[Checkpoint], CheckpointFault | None]:
    ring = key_ring(public_keys) if public_keys is not None else {}
    found: list[Checkpoint] = []
    previous: dict[str, Any] | None = None
    async for row in _checkpoint_rows(conn):
        doc = _document(row)
        checkpoint = parse_checkpoint(doc)
        problem = (
            "malformed_checkpoint"
            if checkpoint is None
            else _continuity(row, checkpoint, found, previous)
        )
        if problem is None and public_keys is not None:
            problem = check_checkpoint(doc, ring)
        if problem is not None:
            number = len(found) + 1 if problem == "checkpoint_missing" else row.number
            detail = _EXPLAIN[problem]
            if problem == "key_mismatch" and doc is not None and ring:
                detail += f" (signed by {doc['key_id']}; given: {', '.join(ring)})"
            return found, _fault(problem, number, detail)
        assert checkpoint is not None  # noqa: S101 - no problem means it parsed
        found.append(checkpoint)
        previous = doc
    return found, None


async def _checkpoint_rows(conn: AsyncConnection) -> AsyncIterator[Any]:
    after = 0
    while True:
        stmt = (
            select(AuditCheckpointRow)
            .where(col(AuditCheckpointRow.number) > after)
            .order_by(col(AuditCheckpointRow.number))
            .limit(_PAGE)
        )
        page = (await conn.execute(stmt)).all()
        for row in page:
            yield row
        if len(page) < _PAGE:
            return
        after = page[-1].number


def _document(row: Any) -> dict[str, Any] | None:
    """The checkpoint document of a stored row; None if its body is not JSON."""
    try:
        return checkpoint_doc(row)
    except orjson.JSONDecodeError:
        return None


def _continuity(
    row: Any,
    checkpoint: Checkpoint,
    found: list[Checkpoint],
    previous: dict[str, Any] | None,
) -> str | None:
    """Why `checkpoint` does not follow `found`, or None."""
    if (row.number, row.tree_size, row.root_hash, row.sealed_at) != (
        checkpoint.number,
        checkpoint.tree_size,
        checkpoint.root_hash,
        checkpoint.sealed_at,
    ):
        return "checkpoint_altered"
    if checkpoint.number != len(found) + 1:
        return "checkpoint_missing"
    expected = checkpoint_digest(previous) if previous is not None else None
    if checkpoint.previous != expected:
        return "checkpoint_altered"
    if found and checkpoint.tree_size <= found[-1].tree_size:
        return "checkpoint_altered"
    return None


async def _unsigned_leaves(
    conn: AsyncConnection, latest: Checkpoint | None
) -> CheckpointFault | None:
    top = (await conn.execute(select(func.max(col(AuditLeafRow.leaf_index))))).scalar()
    size = latest.tree_size if latest is not None else 0
    if top is None or top < size:
        return None
    number = latest.number + 1 if latest is not None else 1
    return CheckpointFault(
        "checkpoint_missing",
        number,
        (size, top + 1),
        f"leaves {size} to {top} are in no checkpoint: checkpoint {number} was removed",
    )


def _sealed_chains(
    checkpoints: Sequence[Checkpoint], chains: Mapping[str, int]
) -> ChainFault | None:
    """A chain a checkpoint sealed that is gone, or whose head fell below the sealed event."""
    sealed: dict[str, int] = {}
    for checkpoint in checkpoints:
        sealed |= {h.chain_id: h.seq for h in checkpoint.heads}
    for chain_id, seq in sealed.items():
        if chain_id not in chains:
            return ChainFault(chain_id, 1, None, "chain_missing")
        if chains[chain_id] < seq:
            return ChainFault(chain_id, chains[chain_id] + 1, None, "truncated")
    return None


class _Walk:
    """Streams the leaves in order, rebuilding the tree from the events' hashes."""

    def __init__(
        self, checkpoints: Sequence[Checkpoint], walks: Mapping[str, ChainWalk]
    ) -> None:
        self.builder = TreeBuilder()
        self._checkpoints = checkpoints
        self._walks = walks
        self._rewritten: tuple[int, ChainFault] | None = None
        self._node: tuple[int, int] | None = None

    async def run(self, conn: AsyncConnection) -> Fault | None:
        start = 0
        for checkpoint in self._checkpoints:
            while self.builder.size < checkpoint.tree_size:
                end = min(self.builder.size + _PAGE, checkpoint.tree_size)
                fault = await self._page(conn, checkpoint, end)
                if fault is not None:
                    return fault
            fault = self._close(checkpoint, start)
            if fault is not None:
                return fault
            start = checkpoint.tree_size
        return None

    async def _page(
        self, conn: AsyncConnection, checkpoint: Checkpoint, end: int
    ) -> Fault | None:
        completed: list[tuple[int, int, bytes]] = []
        latest = shifted(checkpoint.sealed_at, CLOCK_SKEW)
        rows = await conn.execute(_LEAVES, {"start": self.builder.size, "end": end})
        for index, chain_id, seq, leaf, *columns in rows:
            if index != self.builder.size:
                break
            event = dict(zip(_COLUMNS, columns, strict=True))
            if event["chain_id"] is None:
                return await _gone(conn, chain_id, seq)
            fault = self._event(checkpoint, index, chain_id, seq, event)
            if fault is None and dated_after(event["ts"], latest):
                fault = ChainFault(chain_id, seq, event["event_id"], "after_seal")
            if fault is not None:
                return fault
            if event["hash"] != leaf and self._rewritten is None:
                fault = ChainFault(chain_id, seq, event["event_id"], "altered")
                self._rewritten = (index, fault)
            nodes = self.builder.append(leaf_hash(bytes.fromhex(event["hash"])))
            completed += [n for n in nodes if n[0] >= NODE_LEVEL]
        if self.builder.size < end:
            return _fault(
                "leaves_missing",
                checkpoint.number,
                _EXPLAIN["leaves_missing"],
                (self.builder.size, end),
            )
        if self._node is None:
            self._node = await _first_bad_node(conn, completed)
        return None

    def _event(
        self,
        checkpoint: Checkpoint,
        index: int,
        chain_id: str,
        seq: int,
        event: dict[str, Any],
    ) -> Fault | None:
        """Check a sealed event continues its chain; feed it to the chain's walk."""
        walk = self._walks.get(chain_id)
        if walk is None:
            return ChainFault(chain_id, seq, None, "chain_missing")
        if seq != walk.next_seq:
            return _fault(
                "leaf_out_of_order",
                checkpoint.number,
                _EXPLAIN["leaf_out_of_order"],
                (index, index + 1),
            )
        return walk.check(event)

    def _close(self, checkpoint: Checkpoint, start: int) -> Fault | None:
        """At a checkpoint's size: compare roots and place any fault found meanwhile."""
        rewritten, node = self._rewritten, self._node
        self._rewritten = self._node = None
        if self.builder.root().hex() != checkpoint.root_hash:
            if rewritten is not None:
                return rewritten[1]
            return _fault(
                "root_mismatch",
                checkpoint.number,
                _EXPLAIN["root_mismatch"],
                node or (start, checkpoint.tree_size),
            )
        if rewritten is not None:
            index = rewritten[0]
            return _fault(
                "leaf_altered",
                checkpoint.number,
                _EXPLAIN["leaf_altered"],
                (index, index + 1),
            )
        if node is not None:
            return _fault(
                "node_altered", checkpoint.number, _EXPLAIN["node_altered"], node
            )
        return None


async def _gone(conn: AsyncConnection, chain_id: str, seq: int) -> ChainFault:
    """A sealed event that is not stored: `missing`, or `truncated` if none follows it
    (as the chain's walk would name it)."""
    later = await conn.execute(_LATER, {"chain": chain_id, "seq": seq})
    return ChainFault(chain_id, seq, None, "missing" if later.first() else "truncated")


async def _first_bad_node(
    conn: AsyncConnection, completed: list[tuple[int, int, bytes]]
) -> tuple[int, int] | None:
    """The leaves under the lowest, then first, completed node whose stored hash differs."""
    if not completed:
        return None
    spans: dict[int, tuple[int, int]] = {}
    for level, idx, _ in completed:
        low, high = spans.get(level, (idx, idx))
        spans[level] = (min(low, idx), max(high, idx))
    stmt = select(
        col(AuditNodeRow.level), col(AuditNodeRow.idx), col(AuditNodeRow.hash)
    ).where(
        or_(
            *(
                and_(col(AuditNodeRow.level) == level, col(AuditNodeRow.idx) >= low)
                & (col(AuditNodeRow.idx) <= high)
                for level, (low, high) in spans.items()
            )
        )
    )
    stored = {(lv, i): h for lv, i, h in await conn.execute(stmt)}
    bad = [
        (idx << level, (idx + 1) << level)
        for level, idx, node in completed
        if stored.get((level, idx)) != node.hex()
    ]
    return min(bad, key=lambda span: (span[1] - span[0], span[0])) if bad else None


def _fault(
    problem: str,
    number: int | None,
    detail: str,
    leaves: tuple[int, int] | None = None,
) -> CheckpointFault:
    return CheckpointFault(problem, number, leaves, detail)


_EXPLAIN = {
    "malformed_checkpoint": "its stored body is not a checkpoint",
    "checkpoint_altered": "its stored columns, its predecessor or its tree size "
    "disagree with the signed checkpoints",
    "checkpoint_missing": "it is not in the store: the next one follows a gap",
    "malformed": "its signature is not base64url",
    "unknown_format": "not a checkpoint of a known format",
    "bad_public_key": "a given public key is not an Ed25519 public key",
    "key_mismatch": "signed by a key that is not among the given public keys",
    "bad_signature": "its signature does not cover its content",
    "leaves_missing": "leaves of the signed tree are missing",
    "leaf_out_of_order": "a leaf is not its chain's next sealed event: leaves "
    "were moved",
    "root_mismatch": "the sealed events do not give the signed root: rewritten "
    "after sealing, together with their leaves",
    "leaf_altered": "a stored leaf differs from its event, which is as signed: "
    "proofs for it fail",
    "node_altered": "a stored tree node differs from the signed tree: proofs over "
    "it fail",
}

"""Reading the stored Merkle tree and checkpoints: subtree hashes, ranges, documents.

Complete subtrees from level `NODE_LEVEL` up are stored in `audit_nodes`; one
below that is hashed from its (at most 2^NODE_LEVEL - 1) leaves. So any range a
proof needs costs one indexed lookup of at most ~2·log2(n) nodes and a few
leaves, whatever the tree's size, while the nodes take an eighth of the rows
of the leaves.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import orjson
from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col

from audit.checkpoint import CHECKPOINT_FORMAT
from audit.merkle import Range, Subtree, fold, leaf_hash, root_of, subtrees
from audit.models import AuditCheckpointRow, AuditLeafRow, AuditNodeRow

NODE_LEVEL = 4


def checkpoint_doc(row: Any) -> dict[str, Any]:
    """The signed document of a stored checkpoint row."""
    return {
        "format": CHECKPOINT_FORMAT,
        "checkpoint": orjson.loads(row.body),
        "key_id": row.key_id,
        "signature": row.signature,
    }


async def latest_checkpoint(conn: AsyncConnection) -> Any | None:
    """The newest checkpoint row, or None."""
    stmt = select(AuditCheckpointRow).order_by(col(AuditCheckpointRow.number).desc())
    return (await conn.execute(stmt.limit(1))).first()


async def checkpoint_of_size(conn: AsyncConnection, size: int) -> Any | None:
    """The checkpoint row of tree size `size`, or None."""
    stmt = select(AuditCheckpointRow).where(col(AuditCheckpointRow.tree_size) == size)
    return (await conn.execute(stmt)).first()


async def range_hashes(conn: AsyncConnection, ranges: Sequence[Range]) -> list[bytes]:
    """The MTH of each range of leaves, read from the store."""
    parts = [subtrees(start, end) for start, end in ranges]
    known = await subtree_hashes(conn, {s for p in parts for s in p})
    return [fold([known[s] for s in p]) for p in parts]


async def frontier(conn: AsyncConnection, size: int) -> list[bytes]:
    """The hashes of `subtrees(0, size)`: what a `TreeBuilder` resumes from."""
    parts = subtrees(0, size)
    known = await subtree_hashes(conn, parts)
    return [known[s] for s in parts]


async def subtree_hashes(
    conn: AsyncConnection, wanted: Iterable[Subtree]
) -> dict[Subtree, bytes]:
    """The hash of each complete subtree in `wanted`.

    Raises:
        LookupError: the store lacks a node or leaf they need.
    """
    wanted = set(wanted)
    high = [s for s in wanted if s[0] >= NODE_LEVEL]
    found: dict[Subtree, bytes] = {}
    if high:
        stmt = select(
            col(AuditNodeRow.level), col(AuditNodeRow.idx), col(AuditNodeRow.hash)
        ).where(tuple_(col(AuditNodeRow.level), col(AuditNodeRow.idx)).in_(high))
        for level, idx, hex_hash in await conn.execute(stmt):
            found[(level, idx)] = bytes.fromhex(hex_hash)
    by_block: dict[int, list[Subtree]] = defaultdict(list)
    for level, idx in wanted - set(high):
        by_block[(idx << level) >> NODE_LEVEL].append((level, idx))
    for block, low in by_block.items():
        leaves = await _leaf_hashes(
            conn, block << NODE_LEVEL, (block + 1) << NODE_LEVEL
        )
        for level, idx in low:
            start = (idx << level) - (block << NODE_LEVEL)
            span = leaves[start : start + (1 << level)]
            if len(span) == 1 << level:
                found[(level, idx)] = root_of(span)
    missing = wanted - set(found)
    if missing:
        raise LookupError(f"{len(missing)} subtrees of the tree are not stored")
    return found


async def _leaf_hashes(conn: AsyncConnection, start: int, end: int) -> list[bytes]:
    """Leaf hashes of the stored leaves from `start`, stopping at `end` or a gap."""
    stmt = (
        select(col(AuditLeafRow.leaf_index), col(AuditLeafRow.hash))
        .where(
            col(AuditLeafRow.leaf_index) >= start, col(AuditLeafRow.leaf_index) < end
        )
        .order_by(col(AuditLeafRow.leaf_index))
    )
    hashes = []
    for expected, (index, hex_hash) in enumerate(await conn.execute(stmt), start):
        if index != expected:
            break
        hashes.append(leaf_hash(bytes.fromhex(hex_hash)))
    return hashes

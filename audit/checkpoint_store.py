"""Reading the stored Merkle tree and checkpoints: subtree hashes, ranges, documents.

Complete subtrees from level `NODE_LEVEL` up are stored in `audit_nodes`; one
below that is hashed from its (at most 2^NODE_LEVEL - 1) leaves. So any range a
proof needs costs one indexed lookup of at most ~2·log2(n) nodes and a few
leaves, whatever the tree's size, while the nodes take an eighth of the rows
of the leaves.
"""

import functools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import orjson
from sqlalchemy import TextClause, bindparam, select, text
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col

from audit.checkpoint import CHECKPOINT_FORMAT
from audit.merkle import Range, Subtree, fold, leaf_hash, root_of, subtrees
from audit.models import AuditCheckpointRow, AuditLeafRow

NODE_LEVEL = 4
# Built once: a proof runs a handful of these, and building them costs more
# than running them on an indexed store.
_LATEST = (
    select(AuditCheckpointRow).order_by(col(AuditCheckpointRow.number).desc()).limit(1)
)
_OF_SIZE = select(AuditCheckpointRow).where(
    col(AuditCheckpointRow.tree_size) == bindparam("size")
)
_LEAVES = (
    select(col(AuditLeafRow.leaf_index), col(AuditLeafRow.hash))
    .where(
        col(AuditLeafRow.leaf_index) >= bindparam("start"),
        col(AuditLeafRow.leaf_index) < bindparam("end"),
    )
    .order_by(col(AuditLeafRow.leaf_index))
)


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
    return (await conn.execute(_LATEST)).first()


async def checkpoint_of_size(conn: AsyncConnection, size: int) -> Any | None:
    """The checkpoint row of tree size `size`, or None."""
    return (await conn.execute(_OF_SIZE, {"size": size})).first()


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
        keys = {f"l{n}": level for n, (level, _) in enumerate(high)}
        keys |= {f"i{n}": idx for n, (_, idx) in enumerate(high)}
        for level, idx, hex_hash in await conn.execute(_nodes(len(high)), keys):
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


@functools.cache
def _nodes(count: int) -> TextClause:
    """Select `count` nodes by (level, idx): ORed pairs, which every store looks up
    in its primary key (SQLite scans the whole table for a row-value IN list)."""
    pairs = " OR ".join(f"(level = :l{n} AND idx = :i{n})" for n in range(count))
    return text(f"SELECT level, idx, hash FROM audit_nodes WHERE {pairs}")  # noqa: S608


async def _leaf_hashes(conn: AsyncConnection, start: int, end: int) -> list[bytes]:
    """Leaf hashes of the stored leaves from `start`, stopping at `end` or a gap."""
    hashes = []
    rows = await conn.execute(_LEAVES, {"start": start, "end": end})
    for expected, (index, hex_hash) in enumerate(rows, start):
        if index != expected:
            break
        hashes.append(leaf_hash(bytes.fromhex(hex_hash)))
    return hashes

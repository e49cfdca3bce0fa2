"""Reading the stored Merkle tree and checkpoints: subtree hashes, ranges, documents.

Complete subtrees from level `NODE_LEVEL` up are stored in `audit_nodes`; one
below that is hashed from its (at most 2^NODE_LEVEL - 1) leaves. So any range a
proof needs costs one indexed lookup of at most ~2·log2(n) nodes and a few
leaves, whatever the tree's size, while the nodes take an eighth of the rows
of the leaves.
"""

import functools
import re
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

import orjson
from sqlalchemy import TextClause, bindparam, select, text
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col

from audit.checkpoint import CHECKPOINT_FORMAT
from audit.merkle import Range, Subtree, fold, leaf_hash, root_of, subtrees
from audit.models import AuditCheckpointRow

NODE_LEVEL = 4
_LEAF = -1  # the level `_lookup` gives leaves
_HEX64 = re.compile(r"[0-9a-f]{64}")
# Built once: a proof runs a handful of these, and building them costs more
# than running them on an indexed store.
_LATEST = (
    select(AuditCheckpointRow).order_by(col(AuditCheckpointRow.number).desc()).limit(1)
)
_OF_SIZE = select(AuditCheckpointRow).where(
    col(AuditCheckpointRow.tree_size) == bindparam("size")
)


class StoredCheckpoint(NamedTuple):
    """The stored columns a checkpoint document is made of."""

    number: int
    body: str
    key_id: str
    signature: str


def checkpoint_doc(row: Any) -> dict[str, Any]:
    """The signed document of a stored checkpoint (a row or a `StoredCheckpoint`)."""
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
    """The hash of each complete subtree in `wanted`, in one statement.

    Raises:
        LookupError: the store lacks a node or leaf they need, or holds one
            that is not a SHA-256 digest (so sealers and proofs refuse the
            tree as inconsistent rather than fail on it).
    """
    wanted = set(wanted)
    high = sorted(s for s in wanted if s[0] >= NODE_LEVEL)
    low = wanted.difference(high)
    blocks = sorted({(idx << level) >> NODE_LEVEL for level, idx in low})
    if not wanted:
        return {}
    params = {f"l{n}": level for n, (level, _) in enumerate(high)}
    params |= {f"i{n}": idx for n, (_, idx) in enumerate(high)}
    params |= {f"b{n}": block << NODE_LEVEL for n, block in enumerate(blocks)}
    params |= {f"e{n}": (block + 1) << NODE_LEVEL for n, block in enumerate(blocks)}
    found: dict[Subtree, bytes] = {}
    leaves: dict[int, bytes] = {}
    for level, idx, hex_hash in await conn.execute(
        _lookup(len(high), len(blocks)), params
    ):
        if level == _LEAF:
            leaves[idx] = leaf_hash(_digest(hex_hash))
        else:
            found[(level, idx)] = _digest(hex_hash)
    for level, idx in low:
        span = [leaves.get(i) for i in range(idx << level, (idx + 1) << level)]
        if None not in span:
            found[(level, idx)] = root_of(h for h in span if h is not None)
    missing = wanted - set(found)
    if missing:
        raise LookupError(f"{len(missing)} subtrees of the tree are not stored")
    return found


def _digest(stored: Any) -> bytes:
    """The 32 bytes of a stored hash (64 lowercase hex digits).

    Raises:
        LookupError: the stored value is not one: the tree was tampered with.
    """
    if not isinstance(stored, str) or not _HEX64.fullmatch(stored):
        raise LookupError(
            "the stored tree is inconsistent: a node or leaf is not a hash"
        )
    return bytes.fromhex(stored)


@functools.cache
def _lookup(nodes: int, blocks: int) -> TextClause:
    """Select `nodes` stored nodes by (level, idx) and the leaves of `blocks` blocks.

    The nodes are ORed pairs, which every store looks up in its primary key
    (SQLite scans the whole table for a row-value IN list); leaves come back as
    level `_LEAF`. One statement: on PostgreSQL each one is a round trip. Only
    bind names and fixed identifiers go into the text.
    """
    parts = []
    if nodes:
        pairs = " OR ".join(f"(level = :l{n} AND idx = :i{n})" for n in range(nodes))
        parts.append(f"SELECT level, idx, hash FROM audit_nodes WHERE {pairs}")  # noqa: S608
    if blocks:
        spans = " OR ".join(
            f"(leaf_index >= :b{n} AND leaf_index < :e{n})" for n in range(blocks)
        )
        parts.append(
            f"SELECT {_LEAF}, leaf_index, hash FROM audit_leaves WHERE {spans}"  # noqa: S608
        )
    return text(" UNION ALL ".join(parts))

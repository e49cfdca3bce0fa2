"""Sealing: append committed events to the Merkle tree and sign a checkpoint over it.

`seal()` is one transaction:

1. take the sealing lock (PostgreSQL: an advisory transaction lock; SQLite:
   `BEGIN IMMEDIATE`, the write lock), so sealers in several workers or
   instances take turns and never fork the leaf order;
2. read the latest checkpoint and resume the tree from its stored frontier;
   if that does not give the signed root, the stored tree was tampered with,
   and nothing is signed over it (`SealRefused`; `verify` says where);
3. for each chain whose committed head is past its last sealed event, read the
   events after it and keep those that link on (seq and `prev_hash`); a gap or
   a broken link stops that chain's sealing there (logged; `verify` names it);
4. merge them by (ts, chain_id, seq), each chain kept in seq order, at most
   `max_leaves`, and append them as leaves (leaf data: the event's row hash),
   with the subtree nodes they complete;
5. sign the checkpoint (number, tree size, root, seal time, the previous
   checkpoint's digest, the heads of the chains it sealed) and commit.

With nothing new to seal no checkpoint is made.
"""

import heapq
import itertools
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, NamedTuple

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from audit.chain import genesis_hash
from audit.checkpoint import (
    Checkpoint,
    Head,
    checkpoint_digest,
    parse_checkpoint,
    sign_checkpoint,
)
from audit.checkpoint_store import (
    NODE_LEVEL,
    checkpoint_doc,
    frontier,
    latest_checkpoint,
)
from audit.merkle import TreeBuilder, leaf_hash
from audit.record import canonical_json, utc_now_iso
from governance.signing import Signer

MAX_LEAVES = 20_000  # a checkpoint at most: bounds how long one seal holds the store
# PostgreSQL: sealers take turns on this lock, released when the transaction ends.
_SEAL_LOCK = text("SELECT pg_advisory_xact_lock(1735358065)")
# Each chain's head and last sealed event. (Written as a join on MAX(seq), it
# took PostgreSQL 250 ms through SQLAlchemy's asyncpg statements, 0.2 ms this way.)
_CHAINS = text(
    "SELECT c.chain_id, c.head_seq,"
    " (SELECT MAX(m.seq) FROM audit_leaves m WHERE m.chain_id = c.chain_id),"
    " (SELECT l.hash FROM audit_leaves l WHERE l.chain_id = c.chain_id"
    " ORDER BY l.seq DESC LIMIT 1)"
    " FROM audit_chains c"
)
_EVENTS = text(
    "SELECT seq, ts, prev_hash, hash FROM audit_events"
    " WHERE chain_id = :chain AND seq > :after AND seq <= :upto ORDER BY seq"
)
_PLACEHOLDERS = {  # by the driver's paramstyle, as SQLAlchemy reports it
    "qmark": lambda n: ", ".join("?" * n),
    "numeric_dollar": lambda n: ", ".join(f"${i}" for i in range(1, n + 1)),
}
_CHECKPOINT_COLUMNS = (
    "number",
    "tree_size",
    "root_hash",
    "sealed_at",
    "body",
    "key_id",
    "signature",
)
_log = structlog.get_logger(__name__)


class SealRefused(Exception):
    """The stored tree does not give the latest signed root: nothing is signed over it."""


@dataclass(frozen=True)
class SealResult:
    """What one seal did: the new checkpoint document, if any, and the latest checkpoint."""

    sealed: int
    document: dict[str, Any] | None
    latest: Checkpoint | None


class _Event(NamedTuple):
    ts: str
    chain_id: str
    seq: int
    hash: str


async def seal(
    engine: AsyncEngine,
    signer: Signer,
    *,
    max_leaves: int = MAX_LEAVES,
    now: Callable[[], str] = utc_now_iso,
) -> SealResult:
    """Seal up to `max_leaves` committed events into a new signed checkpoint."""
    async with _sealing(engine) as conn:
        row = await latest_checkpoint(conn)
        latest = _parsed(row)
        events = await _next_events(conn, max_leaves)
        if not events:
            return SealResult(0, None, latest)
        builder = await _resume(conn, latest)
        size, nodes = builder.size, []
        for event in events:
            completed = builder.append(leaf_hash(bytes.fromhex(event.hash)))
            nodes += [(lv, i, h.hex()) for lv, i, h in completed if lv >= NODE_LEVEL]
        heads = {e.chain_id: Head(e.chain_id, e.seq, e.hash) for e in events}
        checkpoint = Checkpoint(
            number=latest.number + 1 if latest else 1,
            tree_size=builder.size,
            root_hash=builder.root().hex(),
            sealed_at=now(),
            previous=checkpoint_digest(checkpoint_doc(row)) if row else None,
            heads=tuple(heads[c] for c in sorted(heads)),
        )
        document = sign_checkpoint(signer, checkpoint)
        await _store(conn, size, events, nodes, document)
    return SealResult(len(events), document, checkpoint)


def _parsed(row: Any | None) -> Checkpoint | None:
    """The latest checkpoint, or None before the first one."""
    if row is None:
        return None
    latest = parse_checkpoint(checkpoint_doc(row))
    if latest is None:
        raise SealRefused(f"checkpoint {row.number} is not a checkpoint document")
    return latest


async def _resume(conn: AsyncConnection, latest: Checkpoint | None) -> TreeBuilder:
    """The tree of the latest checkpoint, from its stored frontier, checked against its root."""
    if latest is None:
        return TreeBuilder()
    try:
        builder = TreeBuilder(latest.tree_size, await frontier(conn, latest.tree_size))
    except LookupError as exc:
        raise SealRefused(f"checkpoint {latest.number}: {exc}") from None
    if builder.root().hex() != latest.root_hash:
        raise SealRefused(f"the stored tree does not give checkpoint {latest.number}")
    return builder


@asynccontextmanager
async def _sealing(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A transaction that holds the sealing lock from its first statement."""
    async with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            await conn.execute(_SEAL_LOCK)
        else:
            await conn.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            await conn.rollback()
            raise
        await conn.commit()


async def _next_events(conn: AsyncConnection, limit: int) -> list[_Event]:
    """The committed events to seal next, in leaf order."""
    runs = []
    for chain_id, head_seq, sealed_seq, sealed_hash in (
        await conn.execute(_CHAINS)
    ).all():
        after = sealed_seq or 0
        if head_seq <= after:
            continue
        rows = await conn.execute(
            _EVENTS,
            {"chain": chain_id, "after": after, "upto": min(head_seq, after + limit)},
        )
        prev = sealed_hash or genesis_hash(chain_id)
        runs.append(_linked(chain_id, after, prev, rows.all()))
    merged = heapq.merge(*runs, key=lambda e: (e.ts, e.chain_id, e.seq))
    return list(itertools.islice(merged, limit))


def _linked(chain_id: str, after: int, prev: str, rows: Sequence[Any]) -> list[_Event]:
    """The events of `rows` that continue the chain from (`after`, `prev`)."""
    run = []
    for seq, ts, prev_hash, hash_ in rows:
        if seq != after + 1 or prev_hash != prev:
            problem = "missing" if seq != after + 1 else "broken_link"
            _log.warning(
                "audit_seal_chain_stopped",
                chain_id=chain_id,
                seq=after + 1,
                problem=problem,
            )
            break
        run.append(_Event(ts, chain_id, seq, hash_))
        after, prev = seq, hash_
    return run


async def _store(
    conn: AsyncConnection,
    size: int,
    events: list[_Event],
    nodes: list[tuple[int, int, str]],
    document: dict[str, Any],
) -> None:
    """Append the leaves, the completed nodes and the signed checkpoint."""
    await _insert(
        conn,
        "audit_leaves",
        ("leaf_index", "chain_id", "seq", "hash"),
        [(size + i, e.chain_id, e.seq, e.hash) for i, e in enumerate(events)],
    )
    if nodes:
        await _insert(conn, "audit_nodes", ("level", "idx", "hash"), nodes)
    body = document["checkpoint"]
    row = [body[k] for k in ("number", "tree_size", "root_hash", "sealed_at")]
    row += [canonical_json(body), document["key_id"], document["signature"]]
    await _insert(conn, "audit_checkpoints", _CHECKPOINT_COLUMNS, [tuple(row)])


async def _insert(
    conn: AsyncConnection,
    table: str,
    columns: tuple[str, ...],
    rows: list[tuple[Any, ...]],
) -> None:
    """Insert many rows as plain tuples: every value is already text or an integer."""
    marks = _PLACEHOLDERS[conn.dialect.paramstyle](len(columns))
    await conn.exec_driver_sql(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",  # noqa: S608
        rows,
    )

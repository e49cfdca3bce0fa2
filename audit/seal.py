"""Sealing: append committed events to the Merkle tree and sign a checkpoint over it.

`seal()` is one transaction:

1. take the sealing lock (PostgreSQL: an advisory transaction lock; SQLite:
   `BEGIN IMMEDIATE`, the write lock), so sealers in several workers or
   instances take turns and never fork the leaf order;
2. read the latest checkpoint and resume the tree from its stored frontier;
   if that does not give the signed root, the stored tree was tampered with,
   and nothing is signed over it (`SealRefused`; `verify` says where);
3. for each chain whose committed head is past its last sealed event, read the
   events after it and keep those that link on (seq and `prev_hash`), hold a
   row hash and are dated within their chain's life: from its `started_at` to
   this seal (both give or take `audit.chain.CLOCK_SKEW`). An event that does
   not stops that chain's sealing there and is reported in `held` (and
   logged; `verify` names it): a signature over a forged or backdated event
   would vouch for it;
4. merge them by (ts, chain_id, seq), each chain kept in seq order, at most
   `max_leaves`, and append them as leaves (leaf data: the event's row hash),
   with the subtree nodes they complete;
5. sign the checkpoint (number, tree size, root, seal time, the previous
   checkpoint's digest, the heads of the chains it sealed) and commit.

With nothing new to seal no checkpoint is made.
"""

import heapq
import itertools
import re
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, NamedTuple

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from audit.chain import (
    CLOCK_SKEW,
    ChainFault,
    dated_after,
    dated_before,
    genesis_hash,
    shifted,
)
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
    "SELECT c.chain_id, c.started_at, c.head_seq,"
    " (SELECT MAX(m.seq) FROM audit_leaves m WHERE m.chain_id = c.chain_id),"
    " (SELECT l.hash FROM audit_leaves l WHERE l.chain_id = c.chain_id"
    " ORDER BY l.seq DESC LIMIT 1)"
    " FROM audit_chains c"
)
_EVENTS = text(
    "SELECT seq, event_id, ts, prev_hash, hash FROM audit_events"
    " WHERE chain_id = :chain AND seq > :after AND seq <= :upto ORDER BY seq"
)
_DIGEST = re.compile(r"[0-9a-f]{64}")
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
    """What one seal did: the new checkpoint document, if any, the latest
    checkpoint, and where chains were held back (the first event not sealed and
    why, as `verify` would name it)."""

    sealed: int
    document: dict[str, Any] | None
    latest: Checkpoint | None
    held: tuple[ChainFault, ...] = ()


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
        sealed_at = now()
        events, held = await _next_events(conn, max_leaves, sealed_at)
        if not events:
            return SealResult(0, None, latest, held)
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
            sealed_at=sealed_at,
            previous=checkpoint_digest(checkpoint_doc(row)) if row else None,
            heads=tuple(heads[c] for c in sorted(heads)),
        )
        document = sign_checkpoint(signer, checkpoint)
        await _store(conn, size, events, nodes, document)
    return SealResult(len(events), document, checkpoint, held)


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


async def _next_events(
    conn: AsyncConnection, limit: int, sealed_at: str
) -> tuple[list[_Event], tuple[ChainFault, ...]]:
    """The committed events to seal next, in leaf order, and the chains held back."""
    runs, held = [], []
    latest = shifted(sealed_at, CLOCK_SKEW)
    for chain_id, started_at, head_seq, sealed_seq, sealed_hash in (
        await conn.execute(_CHAINS)
    ).all():
        after = sealed_seq or 0
        if head_seq <= after:
            continue
        rows = await conn.execute(
            _EVENTS,
            {"chain": chain_id, "after": after, "upto": min(head_seq, after + limit)},
        )
        bounds = (shifted(started_at, -CLOCK_SKEW), latest)
        prev = sealed_hash or genesis_hash(chain_id)
        run, fault = _linked(chain_id, after, prev, bounds, rows.all())
        runs.append(run)
        held += [fault] if fault else []
    merged = heapq.merge(*runs, key=lambda e: (e.ts, e.chain_id, e.seq))
    return list(itertools.islice(merged, limit)), tuple(held)


def _linked(
    chain_id: str,
    after: int,
    prev: str,
    bounds: tuple[str, str],
    rows: Sequence[Any],
) -> tuple[list[_Event], ChainFault | None]:
    """The events of `rows` that continue the chain from (`after`, `prev`) dated
    within `bounds` (earliest, latest), and the fault of the first that does not."""
    run: list[_Event] = []
    for seq, event_id, ts, prev_hash, hash_ in rows:
        problem = _problem((seq, ts, prev_hash, hash_), (after + 1, prev), bounds)
        if problem is not None:
            _log.warning(
                "audit_seal_chain_stopped",
                chain_id=chain_id,
                seq=after + 1,
                problem=problem,
            )
            found = None if problem == "missing" else event_id
            return run, ChainFault(chain_id, after + 1, found, problem)
        run.append(_Event(ts, chain_id, seq, hash_))
        after, prev = seq, hash_
    return run, None


def _problem(
    event: tuple[int, Any, str, Any],
    expected: tuple[int, str],
    bounds: tuple[str, str],
) -> str | None:
    """Why an event (seq, ts, prev_hash, hash) cannot be sealed as the chain's
    `expected` (seq, prev_hash), as `verify` names it."""
    seq, ts, prev_hash, hash_ = event
    if seq != expected[0]:
        return "missing"
    if prev_hash != expected[1]:
        return "broken_link"
    if not isinstance(hash_, str) or not _DIGEST.fullmatch(hash_):
        return "altered"
    if dated_before(ts, bounds[0]):
        return "before_chain_start"
    if dated_after(ts, bounds[1]):
        return "after_seal"
    return None


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

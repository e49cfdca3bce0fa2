"""Audit trails for checkpoint tests: chains written by real writers, sealed, tampered with.

`write_trail()` appends events through real `AuditWriter`s (one chain each,
appends interleaved); `sealed()` seals a store with the test signer; the
`rewrite_*` helpers change an SQLite store the way an attacker with database
access would, re-hashing and re-linking so the chain itself still verifies.
"""

import asyncio
import sqlite3
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from audit.chain import row_hash
from audit.record import AuditDraft
from audit.seal import SealResult, seal
from audit.signing import AuditSigner
from audit.writer import AuditWriter
from governance.store import open_store

SIGNER = AuditSigner(bytes(range(32)), "v1")
STRANGER = AuditSigner(bytes(range(1, 33)), "v1")
PUBLIC_KEY = SIGNER.public_pem()


def sqlite_url(db: Path) -> str:
    """The store URL of an SQLite file."""
    return f"sqlite+aiosqlite:///{db}"


async def write_trail(engine: AsyncEngine, counts: Sequence[int]) -> list[str]:
    """Append `counts[i]` events to chain i, round-robin; return the chain ids."""
    writers = [AuditWriter(engine) for _ in counts]
    try:
        for writer in writers:
            await writer.start()
        for n in range(max(counts)):
            for writer, count in zip(writers, counts, strict=True):
                if n < count:
                    await writer.append(
                        AuditDraft(
                            kind="access.read",
                            outcome="allowed",
                            caller="campaign-sms",
                            detail={"n": n},
                        )
                    )
    finally:
        for writer in writers:
            await writer.stop()
    return [w.chain_id for w in writers]


async def seal_all(engine: AsyncEngine, *, max_leaves: int) -> list[SealResult]:
    """Seal until nothing is left, `max_leaves` at a time; the checkpoints made."""
    made = []
    while (result := await seal(engine, SIGNER, max_leaves=max_leaves)).document:
        made.append(result)
    return made


def build(db: Path, counts: Sequence[int], sizes: Sequence[int]) -> list[str]:
    """A store at `db` with chains of `counts` events, sealed in checkpoints of `sizes`."""

    async def scenario() -> list[str]:
        store = await open_store(sqlite_url(db))
        try:
            chains = await write_trail(store, counts)
            for size in sizes:
                await seal(store, SIGNER, max_leaves=size)
            return chains
        finally:
            await store.dispose()

    return asyncio.run(scenario())


def query(db: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Rows of a raw SQL query on an SQLite store."""
    with closing(sqlite3.connect(db)) as conn:
        return conn.execute(sql, params).fetchall()


def execute(db: Path, sql: str, *params: Any) -> int:
    """Run one statement on an SQLite store behind the proxy's back; rows changed."""
    with closing(sqlite3.connect(db)) as conn:
        count = conn.execute(sql, params).rowcount
        conn.commit()
        return count


def rewrite_event(db: Path, chain_id: str, seq: int, **changes: Any) -> str:
    """Change an event, then re-hash and re-link the rest of its chain and its head.

    The chain verifies afterwards; only the signed checkpoints can tell. Returns
    the changed event's id. `changes` may set kind, outcome and detail.
    """
    assert set(changes) <= {"kind", "outcome", "detail"}
    with closing(sqlite3.connect(db)) as conn:
        conn.row_factory = sqlite3.Row
        rows = [
            dict(r)
            for r in conn.execute(
                "SELECT * FROM audit_events WHERE chain_id = ? AND seq >= ? ORDER BY seq",
                (chain_id, seq),
            )
        ]
        rows[0] |= changes
        prev = rows[0]["prev_hash"]
        for row in rows:
            row["prev_hash"] = prev
            row["hash"] = prev = row_hash(row)
            conn.execute(
                "UPDATE audit_events SET prev_hash = ?, hash = ?, kind = ?, outcome = ?,"
                " detail = ? WHERE chain_id = ? AND seq = ?",
                (
                    row["prev_hash"],
                    row["hash"],
                    row["kind"],
                    row["outcome"],
                    row["detail"],
                    chain_id,
                    row["seq"],
                ),
            )
        conn.execute(
            "UPDATE audit_chains SET head_hash = ? WHERE chain_id = ?", (prev, chain_id)
        )
        conn.commit()
        return str(rows[0]["event_id"])


def leaf_of(db: Path, chain_id: str, seq: int) -> int:
    """The leaf index of one sealed event."""
    ((index,),) = query(
        db,
        "SELECT leaf_index FROM audit_leaves WHERE chain_id = ? AND seq = ?",
        chain_id,
        seq,
    )
    return int(index)

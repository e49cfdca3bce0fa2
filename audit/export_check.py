"""Checks an export against the sealed trail before its manifest is signed.

Nothing is signed that does not match the sealed trail (`TrailCheck`), since
whoever can write to the database could otherwise delete an event, export, and
put it back: each event must hold its hash, equal its leaf's hash if sealed,
and link to the exported events next to it in its chain. An unfiltered export
must hold every event of the range: per chain, each seq between the first and
the last exported is either exported or read from the store and found outside
the range (and linking), the seq before the first is outside the range too,
and the one after the last is outside the range, or committed after the export
began, or beyond the chain's end. A seq missing from the store, or in the range
yet not read, stops the export before its manifest (`trail_altered`). The
manifest states per chain what it holds (`audit.export_manifest`).
"""

import itertools
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import RowMapping, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel import col

from audit.chain import genesis_hash, holds_its_hash
from audit.checkpoint_store import latest_checkpoint
from audit.export_format import COLUMNS
from audit.export_manifest import ChainSeqs, Coverage, Run
from audit.filters import bounded
from audit.models import AuditChain, AuditLeafRow
from audit.query import EVENTS, EventFilter
from governance.errors import TrailAltered

_SELECTED = [EVENTS.c[c] for c in COLUMNS]
_LEAF = AuditLeafRow


class TrailCheck:
    """Checks an export's events against the store's chains and sealed leaves."""

    def __init__(self, f: EventFilter) -> None:
        self.since, self.until = bounded(f)
        self.complete = not set(f.given()) - {"since", "until"}
        self.seqs = ChainSeqs(complete=self.complete)
        self.checkpoint: dict[str, Any] | None = None
        self._sealed_before = 0  # leaves below this were sealed before the scan

    def coverage(self) -> Coverage:
        """What the manifest says the checked events are of the trail."""
        return Coverage(self.complete, self.checkpoint, self.seqs.summary())

    async def begin(self, engine: AsyncEngine) -> None:
        """Note the latest checkpoint: every event it sealed was committed before
        the scan, so one of the range that the scan did not read was removed."""
        async with engine.connect() as conn:
            row = await latest_checkpoint(conn)
        if row is not None:
            self.checkpoint = {
                "number": row.number,
                "tree_size": row.tree_size,
                "root_hash": row.root_hash,
            }
            self._sealed_before = row.tree_size

    async def check_page(self, engine: AsyncEngine, rows: Sequence[RowMapping]) -> None:
        """Each event holds its hash, its leaf's if sealed, and links to its
        exported neighbours."""
        wanted: dict[str, list[int]] = defaultdict(list)
        for stored in rows:
            wanted[stored["chain_id"]].append(stored["seq"])
        async with engine.connect() as conn:
            leaves = await _leaves(conn, wanted)
        for stored in rows:
            row: dict[str, Any] = dict(stored)
            chain, seq = row["chain_id"], row["seq"]
            if not holds_its_hash(row):
                raise TrailAltered(
                    f"event {seq} of chain {chain} does not hold its"
                    " hash: nothing after it is exported; run govproxy audit verify"
                )
            _check_leaf(row, leaves.get((chain, seq)))
            problem = self.seqs.add(chain, seq, row["prev_hash"], row["hash"])
            if problem is not None:
                raise _altered(
                    chain, seq, "does not link to the exported events of its chain"
                )

    async def finish(self, engine: AsyncEngine) -> None:
        """Unfiltered: per chain, the seqs around and between the exported ones
        must be in the store, outside the range, and link."""
        if not self.complete:
            return
        async with engine.connect() as conn:
            for chain, runs in self.seqs.runs():
                await self._around(conn, chain, runs)

    async def _around(self, conn: AsyncConnection, chain: str, runs: list[Run]) -> None:
        first, last = runs[0].first, runs[-1].last
        spans = [(a.last + 1, b.first - 1) for a, b in itertools.pairwise(runs)]
        before = [(first - 1, first - 1)] if first > 1 else []
        spans = [*before, *spans, (last + 1, last + 1)]
        rows = await _events(conn, chain, spans)
        leaves = await _leaves(
            conn, {chain: [s for a, b in spans for s in range(a, b + 1)]}
        )
        if first == 1 and runs[0].prev_hash != genesis_hash(chain):
            raise _altered(chain, 1, "does not start its chain")
        if before:
            self._outside(chain, rows, leaves, first - 1, then=runs[0].prev_hash)
        for a, b in itertools.pairwise(runs):
            prev = a.hash
            for seq in range(a.last + 1, b.first):
                prev = self._outside(chain, rows, leaves, seq, after=prev)
            if prev != b.prev_hash:
                raise _altered(chain, b.first, "does not link to the event before it")
        await self._after(conn, chain, rows, leaves, runs[-1])

    def _outside(
        self,
        chain: str,
        rows: Mapping[int, Mapping[str, Any]],
        leaves: Mapping[tuple[str, int], tuple[int, str]],
        seq: int,
        *,
        after: str | None = None,
        then: str | None = None,
    ) -> str:
        """Check event `seq`, not exported, is stored, outside the range and links
        (`after`: its prev_hash; `then`: its hash); return its hash."""
        row = rows.get(seq)
        if row is None:
            raise _missing(chain, seq, leaves.get((chain, seq)))
        self._stored(row, leaves.get((chain, seq)))
        if self.since <= row["ts"] < self.until:
            raise _unread(chain, seq)
        if (after is not None and row["prev_hash"] != after) or (
            then is not None and row["hash"] != then
        ):
            raise _altered(
                chain, seq, "does not link to the exported events of its chain"
            )
        return str(row["hash"])

    async def _after(
        self,
        conn: AsyncConnection,
        chain: str,
        rows: Mapping[int, Mapping[str, Any]],
        leaves: Mapping[tuple[str, int], tuple[int, str]],
        last: Run,
    ) -> None:
        """The event after the last exported one: beyond the chain's end, outside
        the range, or committed after the export began (not sealed by then)."""
        seq = last.last + 1
        row, leaf = rows.get(seq), leaves.get((chain, seq))
        if row is None:
            head = await conn.scalar(
                select(col(AuditChain.head_seq)).where(
                    col(AuditChain.chain_id) == chain
                )
            )
            if leaf is not None or (head is not None and head >= seq):
                raise _missing(chain, seq, leaf)
            return
        self._stored(row, leaf)
        if row["prev_hash"] != last.hash:
            raise _altered(
                chain, seq, "does not link to the exported events of its chain"
            )
        if (
            self.since <= row["ts"] < self.until
            and leaf
            and leaf[0] < self._sealed_before
        ):
            raise _unread(chain, seq)

    @staticmethod
    def _stored(row: Mapping[str, Any], leaf: tuple[int, str] | None) -> None:
        if not holds_its_hash(row):
            raise _altered(row["chain_id"], row["seq"], "does not hold its hash")
        _check_leaf(row, leaf)


def _check_leaf(row: Mapping[str, Any], leaf: tuple[int, str] | None) -> None:
    if leaf is not None and leaf[1] != row["hash"]:
        raise _altered(
            row["chain_id"],
            row["seq"],
            f"is not the event sealed as leaf {leaf[0]} (its hash differs)",
        )


def _altered(chain: str, seq: int, why: str) -> TrailAltered:
    return TrailAltered(
        f"event {seq} of chain {chain} {why}: the export is not signed;"
        " run govproxy audit verify"
    )


def _missing(chain: str, seq: int, leaf: tuple[int, str] | None) -> TrailAltered:
    sealed = f"sealed as leaf {leaf[0]}" if leaf else "not sealed yet"
    return _altered(chain, seq, f"is missing from the store ({sealed})")


def _unread(chain: str, seq: int) -> TrailAltered:
    return _altered(
        chain,
        seq,
        "is in the range but the export did not read it (put back, or committed,"
        " while the export ran)",
    )


async def _leaves(
    conn: AsyncConnection, wanted: Mapping[str, Sequence[int]]
) -> dict[tuple[str, int], tuple[int, str]]:
    """(leaf index, hash) of each sealed event among `wanted` (chain: seqs)."""
    if not wanted:
        return {}
    stmt = select(
        col(_LEAF.chain_id), col(_LEAF.seq), col(_LEAF.leaf_index), col(_LEAF.hash)
    ).where(
        or_(
            *(
                and_(col(_LEAF.chain_id) == chain, col(_LEAF.seq).in_(seqs))
                for chain, seqs in wanted.items()
            )
        )
    )
    return {(c, s): (i, h) for c, s, i, h in await conn.execute(stmt)}


async def _events(
    conn: AsyncConnection, chain: str, spans: Sequence[tuple[int, int]]
) -> dict[int, dict[str, Any]]:
    """The stored events of `chain` whose seq is in one of `spans` (inclusive)."""
    stmt = select(*_SELECTED).where(
        EVENTS.c.chain_id == chain,
        or_(*(EVENTS.c.seq.between(a, b) for a, b in spans)),
    )
    return {r["seq"]: dict(r) for r in (await conn.execute(stmt)).mappings().all()}

"""Inclusion and consistency proofs, built from the store, checkable without it.

An inclusion proof shows one event is in the tree a signed checkpoint commits to:

```
{"format": "govproxy-audit-inclusion/1",
 "event": {every stored column of the event, "hash" included},
 "leaf_index": 41, "path": ["<hex>", …],          (RFC 9162 §2.1.3, leaf to root)
 "checkpoint": {the latest signed checkpoint document}}
```

The verifier recomputes the event's row hash from its columns, the leaf from
it, the root from the path, and checks the checkpoint's signature: it need not
trust the store. A consistency proof shows the tree of one checkpoint is a
prefix of the tree of a later one (nothing sealed was changed or dropped since):

```
{"format": "govproxy-audit-consistency/1", "first": {checkpoint document},
 "second": {checkpoint document}, "path": ["<hex>", …]}    (RFC 9162 §2.1.4)
```

Each proof is checked here against its checkpoint before it is handed out: a
stored tree that does not give the signed root yields `TreeInconsistent`, never
a proof that fails later in an auditor's hands. `audit.proof_check` verifies
both documents offline.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from audit.checkpoint import Checkpoint, parse_checkpoint
from audit.checkpoint_store import (
    StoredCheckpoint,
    checkpoint_doc,
    checkpoint_of_size,
    latest_checkpoint,
    range_hashes,
)
from audit.merkle import (
    consistency_ranges,
    inclusion_ranges,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)
from audit.models import AuditEventRow
from governance.errors import Conflict, InvalidRequest, NotFound

INCLUSION_FORMAT = "govproxy-audit-inclusion/1"
CONSISTENCY_FORMAT = "govproxy-audit-consistency/1"
_COLUMNS = tuple(AuditEventRow.model_fields)
# The event's stored columns, its leaf index (None: not sealed) and the latest
# checkpoint, in one statement: on PostgreSQL every statement is a round trip.
_EVENT = text(
    f"SELECT {', '.join('e.' + c for c in _COLUMNS)}, l.leaf_index,"  # noqa: S608
    " c.number, c.body, c.key_id, c.signature"
    " FROM audit_events e LEFT JOIN audit_leaves l"
    " ON l.chain_id = e.chain_id AND l.seq = e.seq"
    " LEFT JOIN audit_checkpoints c"
    " ON c.number = (SELECT MAX(number) FROM audit_checkpoints)"
    " WHERE e.event_id = :event_id"
)


class UnknownEvent(NotFound):
    """No audit event has that id."""

    code = "unknown_event"
    title = "Unknown audit event"


class EventNotSealed(Conflict):
    """The event is not in a signed checkpoint yet."""

    code = "event_not_sealed"
    title = "Event not sealed yet"


class UnknownCheckpoint(NotFound):
    """No checkpoint has that tree size."""

    code = "unknown_checkpoint"
    title = "Unknown checkpoint"


class TreeInconsistent(Conflict):
    """The stored tree does not give the signed root: run `audit verify`."""

    code = "tree_inconsistent"
    title = "Stored tree does not match its checkpoint"


async def inclusion_proof(engine: AsyncEngine, event_id: str) -> dict[str, Any]:
    """The inclusion proof of event `event_id` in the latest checkpoint.

    Raises:
        UnknownEvent, EventNotSealed, TreeInconsistent.
    """
    async with _reading(engine) as conn:
        found = (await conn.execute(_EVENT, {"event_id": event_id})).first()
        if found is None:
            raise UnknownEvent("no audit event has this id")
        *event, index, number, body, key_id, signature = found
        stored = StoredCheckpoint(number, body, key_id, signature)
        doc, head = _signed(stored if number is not None else None)
        if index is None or head is None or index >= head.tree_size:
            raise EventNotSealed("the event is not in a signed checkpoint yet")
        path = await _hashes(conn, inclusion_ranges(index, head.tree_size))
    columns = dict(zip(_COLUMNS, event, strict=True))
    try:
        leaf = leaf_hash(bytes.fromhex(columns["hash"]))
    except ValueError:  # a stored hash that is no digest: the row was altered
        raise TreeInconsistent(
            "the event's stored hash is not a digest: run govproxy audit verify"
        ) from None
    root = bytes.fromhex(head.root_hash)
    if not verify_inclusion(index, head.tree_size, leaf, path, root):
        raise TreeInconsistent(f"the tree does not give checkpoint {head.number}")
    return {
        "format": INCLUSION_FORMAT,
        "event": columns,
        "leaf_index": index,
        "path": [h.hex() for h in path],
        "checkpoint": doc,
    }


async def consistency_proof(
    engine: AsyncEngine, first: int, second: int | None = None
) -> dict[str, Any]:
    """The consistency proof from the checkpoint of size `first` to that of `second`.

    Args:
        engine: the store.
        first: tree size of the earlier checkpoint.
        second: tree size of the later one; None for the latest.

    Raises:
        InvalidRequest, UnknownCheckpoint, TreeInconsistent.
    """
    if second is not None and first > second:
        raise InvalidRequest("the first tree size must not exceed the second")
    async with _reading(engine) as conn:
        old_doc, old = _signed(await checkpoint_of_size(conn, first))
        new_doc, new = _signed(
            await latest_checkpoint(conn)
            if second is None
            else await checkpoint_of_size(conn, second)
        )
        if old is None or new is None:
            missing = first if old is None else second
            raise UnknownCheckpoint(f"no checkpoint has tree size {missing}")
        if old.tree_size > new.tree_size:
            raise InvalidRequest("the first tree size exceeds the latest checkpoint's")
        path = await _hashes(conn, consistency_ranges(old.tree_size, new.tree_size))
    if not _linked(old, new, path):
        raise TreeInconsistent(
            f"the tree does not link checkpoints {old.number} and {new.number}"
        )
    return {
        "format": CONSISTENCY_FORMAT,
        "first": old_doc,
        "second": new_doc,
        "path": [h.hex() for h in path],
    }


async def kept_checkpoint_fault(engine: AsyncEngine, kept: Checkpoint) -> str | None:
    """Why the store does not extend `kept`, a checkpoint an auditor saved (its
    signature checked by the caller), or None if it does: the store's latest
    checkpoint must be at least as large, and the stored tree must link the two.

    This is what the store alone cannot show: removing the newest checkpoints
    with their leaves (or rolling the whole database back) leaves a smaller
    tree that verifies on its own.
    """
    async with _reading(engine) as conn:
        _, latest = _signed(await latest_checkpoint(conn))
        if latest is None or latest.tree_size < kept.tree_size:
            return (
                f"the store's tree is smaller than kept checkpoint {kept.number}"
                f" ({latest.tree_size if latest else 0} < {kept.tree_size} events):"
                " it was rolled back or its newest checkpoints were removed"
            )
        path = await _hashes(conn, consistency_ranges(kept.tree_size, latest.tree_size))
    if not _linked(kept, latest, path):
        return (
            f"the store's tree does not contain kept checkpoint {kept.number}: events"
            " it sealed were changed or re-sealed"
        )
    return None


def _linked(old: Checkpoint, new: Checkpoint, path: list[bytes]) -> bool:
    """Whether `path` proves `new`'s tree extends `old`'s."""
    return verify_consistency(
        old.tree_size,
        new.tree_size,
        bytes.fromhex(old.root_hash),
        bytes.fromhex(new.root_hash),
        path,
    )


@asynccontextmanager
async def _reading(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection; on PostgreSQL without a transaction, saving the BEGIN and
    ROLLBACK round trips (SQLite's inline driver has neither, nor a round trip).

    Proofs need no snapshot: nothing a checkpoint covers is ever changed.
    """
    async with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        yield conn


def _signed(row: Any | None) -> tuple[dict[str, Any], Checkpoint | None]:
    """A stored checkpoint's document and its signed content (None: no such row).

    Raises:
        TreeInconsistent: the stored checkpoint is not a checkpoint document.
    """
    if row is None:
        return {}, None
    try:
        doc = checkpoint_doc(row)
    except orjson.JSONDecodeError:
        doc = {}
    head = parse_checkpoint(doc)
    if head is None:
        raise TreeInconsistent(f"checkpoint {row.number} is not a checkpoint document")
    return doc, head


async def _hashes(conn: AsyncConnection, ranges: list[tuple[int, int]]) -> list[bytes]:
    """The MTH of each range; a store missing a node is an inconsistent tree."""
    try:
        return await range_hashes(conn, ranges)
    except LookupError as exc:
        raise TreeInconsistent(str(exc)) from None

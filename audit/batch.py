"""One group commit of the audit writer: link a batch of drafts, then store it in one transaction.

`link_batch()` places drafts after a chain's head (the CPU part: canonical
encoding and hashing). `store_batch()` writes what it produced in the caller's
transaction on a blocking connection (SQLite, on the writer's thread): the
events, the new decision shapes, the subject index rows, the statements that
must commit with them (`also`), and the moved chain head. `store_batch_async()`
does the same on an async connection; on PostgreSQL the events go in by COPY
(`adapters.sql.pg_copy`), after the other statements have begun the transaction.
"""

import operator
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, insert, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Executable
from sqlmodel import col

from adapters.sql.pg_copy import copy_rows
from audit.chain import link
from audit.models import AuditChain, AuditEventRow, AuditSubjectRow, DecisionShapeRow
from audit.record import SUBJECT_REFS, AuditDraft, DecisionShape

# What must commit with the events: a statement, a statement and its parameter
# rows, or work that needs the connection (`consent.models.bulk_append`).
Also = (
    Executable | tuple[Executable, list[dict[str, Any]]] | Callable[[Connection], None]
)
# Built once; every commit binds values into them.
_EVENT_COLUMNS = tuple(AuditEventRow.model_fields)
_EVENT_VALUES = operator.itemgetter(*_EVENT_COLUMNS)
# SQLite's (qmark) parameters; PostgreSQL copies the events in instead.
_INSERT_EVENTS = (
    f"INSERT INTO audit_events ({', '.join(_EVENT_COLUMNS)})"  # noqa: S608 - constants
    f" VALUES ({', '.join('?' * len(_EVENT_COLUMNS))})"
)
_INSERT_SUBJECTS = insert(AuditSubjectRow)
_INSERT_SHAPES = {
    "postgresql": postgresql.insert(DecisionShapeRow).on_conflict_do_nothing(),
    "sqlite": sqlite.insert(DecisionShapeRow).on_conflict_do_nothing(),
}
_MOVE_HEAD = (
    update(AuditChain)
    .where(col(AuditChain.chain_id) == bindparam("b_chain"))
    .values(head_seq=bindparam("b_seq"), head_hash=bindparam("b_hash"))
)


@dataclass(frozen=True)
class LinkedBatch:
    """A batch placed on its chain: rows to store and the head they lead to."""

    chain_id: str
    rows: list[dict[str, Any]]
    subjects: list[dict[str, Any]]
    shapes: dict[str, DecisionShape]
    seq: int
    head: str


def link_batch(
    drafts: Iterable[AuditDraft],
    *,
    chain_id: str,
    seq: int,
    head: str,
    stored_shapes: Collection[str],
) -> LinkedBatch:
    """Chain `drafts` after (`seq`, `head`); collect index rows and shapes not yet stored."""
    rows: list[dict[str, Any]] = []
    subjects: list[dict[str, Any]] = []
    shapes: dict[str, DecisionShape] = {}
    for draft in drafts:
        seq += 1
        row = link(draft, chain_id=chain_id, seq=seq, prev_hash=head)
        head = row["hash"]
        rows.append(row)
        subjects += [
            {"subject_ref": ref, "ts": draft.ts, "chain_id": chain_id, "seq": seq}
            for ref in draft.detail.get(SUBJECT_REFS, ())
        ]
        if draft.decision is not None and draft.decision.id not in stored_shapes:
            shapes[draft.decision.id] = draft.decision
    return LinkedBatch(chain_id, rows, subjects, shapes, seq, head)


def store_batch(conn: Connection, batch: LinkedBatch, also: Sequence[Also]) -> None:
    """Write `batch` and `also` in the caller's open transaction on SQLite `conn`."""
    # Events go to the driver as tuples: every value is already text or an
    # integer, and SQLAlchemy's per-value handling would cost more than the
    # insert itself in a bulk commit (a consent import of 100,000 rows).
    conn.exec_driver_sql(_INSERT_EVENTS, _event_tuples(batch))
    _store_the_rest(conn, batch, also)


async def store_batch_async(
    conn: AsyncConnection, batch: LinkedBatch, also: Sequence[Also]
) -> None:
    """`store_batch` on an async connection; PostgreSQL copies the events in."""
    if conn.dialect.name != "postgresql":
        await conn.run_sync(store_batch, batch, also)
        return
    await conn.run_sync(_store_the_rest, batch, also)  # begins the transaction
    await copy_rows(conn, "audit_events", _EVENT_COLUMNS, _event_tuples(batch))


def _store_the_rest(conn: Connection, batch: LinkedBatch, also: Sequence[Also]) -> None:
    """Everything but the events: shapes, subject index, `also`, and the head."""
    if batch.shapes:
        conn.execute(_INSERT_SHAPES[conn.dialect.name], _shape_rows(batch.shapes))
    if batch.subjects:
        conn.execute(_INSERT_SUBJECTS, batch.subjects)
    for extra in also:
        if isinstance(extra, tuple):
            conn.execute(*extra)
        elif isinstance(extra, Executable):
            conn.execute(extra)
        else:
            extra(conn)
    conn.execute(
        _MOVE_HEAD,
        {"b_chain": batch.chain_id, "b_seq": batch.seq, "b_hash": batch.head},
    )


def _event_tuples(batch: LinkedBatch) -> list[tuple[Any, ...]]:
    return [_EVENT_VALUES(r) for r in batch.rows]


def _shape_rows(shapes: dict[str, DecisionShape]) -> list[dict[str, str]]:
    return [
        {"shape_id": s.id, "revision": s.revision, "input": s.input, "result": s.result}
        for s in shapes.values()
    ]

"""The durable audit writer: group commit that flushes as soon as the writer is free.

`append()` queues a draft and returns once its event is committed, or raises
`AuditWriteFailed`, in which case nothing of it is stored. One background task
drains the queue: everything queued while the previous transaction ran goes into
the next one, so durability costs one commit per batch, not per request. Each
writer owns its chain, so writers never contend for a chain head.

Statements passed as `also` (for example a consent event) commit in the same
transaction as their audit event: both are stored, or neither. So do the
`audit_subjects` rows of an event that lists `SUBJECT_REFS` in its detail, and
the decision shape an event names, the first time this writer commits it
(insert-if-absent, so writers in other processes may have stored it already).
"""

import asyncio
import os
import socket
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql import Executable
from sqlmodel import col

from audit.chain import genesis_hash, link
from audit.models import AuditChain, AuditEventRow, AuditSubjectRow, DecisionShapeRow
from audit.record import SUBJECT_REFS, AuditDraft, DecisionShape, utc_now_iso
from governance.errors import AuditWriteFailed

_MAX_BATCH = 512
# Shape ids this writer has committed, remembered so a shape is inserted once;
# one forgotten is only inserted again (and ignored by the store).
_KNOWN_SHAPES = 16384
# A statement to run with the events, or a statement and its parameter rows.
Also = Executable | tuple[Executable, list[dict[str, Any]]]
# Built once; every commit binds values into them.
_EVENT_COLUMNS = tuple(AuditEventRow.model_fields)
_PLACEHOLDERS = {  # by the driver's paramstyle, as SQLAlchemy reports it
    "qmark": lambda n: ", ".join("?" * n),
    "numeric_dollar": lambda n: ", ".join(f"${i}" for i in range(1, n + 1)),
}
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
_log = structlog.get_logger(__name__)


@dataclass
class _Pending:
    drafts: tuple[AuditDraft, ...]
    also: Sequence[Also]
    done: asyncio.Future[list[dict[str, Any]]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class AuditWriter:
    """Appends drafts to this writer's chain, durably, in group commits."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self.chain_id = uuid.uuid4().hex
        self._seq = 0
        self._head = genesis_hash(self.chain_id)
        self._queue: asyncio.Queue[_Pending | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._insert_shapes = _INSERT_SHAPES[engine.dialect.name]
        # Events go to the driver as tuples: every value is already text or an
        # integer, and SQLAlchemy's per-value handling would cost more than the
        # insert itself in a bulk commit (a consent import of 100,000 rows).
        self._insert_events = (
            f"INSERT INTO audit_events ({', '.join(_EVENT_COLUMNS)}) VALUES"  # noqa: S608
            f" ({_PLACEHOLDERS[engine.dialect.paramstyle](len(_EVENT_COLUMNS))})"
        )
        self._shapes: OrderedDict[str, None] = OrderedDict()

    async def start(self) -> None:
        """Register this writer's chain and start draining the queue."""
        writer = f"{socket.gethostname()}:{os.getpid()}"
        async with self._engine.begin() as conn:
            await conn.execute(
                insert(AuditChain).values(
                    chain_id=self.chain_id,
                    writer=writer[:128],
                    started_at=utc_now_iso(),
                    head_seq=0,
                    head_hash=self._head,
                )
            )
        self._task = asyncio.create_task(self._run(), name="audit-writer")

    async def stop(self) -> None:
        """Refuse new appends, commit everything already queued, then stop."""
        task, self._task = self._task, None
        if task is None:
            return
        self._queue.put_nowait(None)  # drained in order: everything before it commits
        await asyncio.gather(task, return_exceptions=True)

    async def append(
        self, draft: AuditDraft, *, also: Sequence[Also] = ()
    ) -> dict[str, Any]:
        """Commit `draft` (and `also`) durably and return the stored row."""
        return (await self.append_all([draft], also=also))[0]

    async def append_all(
        self, drafts: Sequence[AuditDraft], *, also: Sequence[Also] = ()
    ) -> list[dict[str, Any]]:
        """Commit all `drafts` and `also` in one transaction: all are stored, or none.

        `also` holds statements, or (statement, parameter rows) pairs run as one
        executemany, for bulk work such as a consent import.
        """
        if not drafts:
            raise ValueError("append_all needs at least one draft")
        if self._task is None or self._task.done():
            raise AuditWriteFailed("the audit writer is not running")
        pending = _Pending(tuple(drafts), also)
        self._queue.put_nowait(pending)
        return await pending.done

    async def _run(self) -> None:
        stopping = False
        while not stopping:
            batch: list[_Pending] = []
            item = await self._queue.get()
            while True:
                if item is None:
                    stopping = True
                else:
                    batch.append(item)
                if stopping or self._queue.empty() or len(batch) >= _MAX_BATCH:
                    break
                item = self._queue.get_nowait()
            if batch:
                await self._commit_batch(batch)

    async def _commit_batch(self, batch: list[_Pending]) -> None:
        try:
            rows = await self._commit(batch)
        except Exception as exc:
            _log.warning(
                "audit_commit_failed", events=len(batch), error=type(exc).__name__
            )
            await self._resync()
            if len(batch) > 1:  # one bad statement must not sink its neighbours
                for item in batch:
                    await self._commit_batch([item])
                return
            _fail(batch[0])
            return
        for item in batch:
            mine, rows = rows[: len(item.drafts)], rows[len(item.drafts) :]
            if not item.done.done():
                item.done.set_result(mine)

    async def _commit(self, batch: list[_Pending]) -> list[dict[str, Any]]:
        seq, head, rows, subjects = self._seq, self._head, [], []
        shapes: dict[str, DecisionShape] = {}
        for draft in (d for item in batch for d in item.drafts):
            seq += 1
            row = link(draft, chain_id=self.chain_id, seq=seq, prev_hash=head)
            head = row["hash"]
            rows.append(row)
            subjects += [
                {
                    "subject_ref": ref,
                    "ts": draft.ts,
                    "chain_id": self.chain_id,
                    "seq": seq,
                }
                for ref in draft.detail.get(SUBJECT_REFS, ())
            ]
            if draft.decision is not None and draft.decision.id not in self._shapes:
                shapes[draft.decision.id] = draft.decision
        async with self._engine.begin() as conn:
            if shapes:
                await conn.execute(self._insert_shapes, _shape_rows(shapes.values()))
            await conn.exec_driver_sql(
                self._insert_events, [tuple(r[c] for c in _EVENT_COLUMNS) for r in rows]
            )
            if subjects:
                await conn.execute(_INSERT_SUBJECTS, subjects)
            for item in batch:
                for extra in item.also:
                    if isinstance(extra, tuple):
                        await conn.execute(*extra)
                    else:
                        await conn.execute(extra)
            await self._move_head(conn, seq, head)
        self._seq, self._head = seq, head
        self._remember(shapes)
        return rows

    def _remember(self, shapes: dict[str, DecisionShape]) -> None:
        self._shapes.update(dict.fromkeys(shapes))
        while len(self._shapes) > _KNOWN_SHAPES:
            self._shapes.popitem(last=False)

    async def _move_head(self, conn: AsyncConnection, seq: int, head: str) -> None:
        await conn.execute(
            _MOVE_HEAD, {"b_chain": self.chain_id, "b_seq": seq, "b_hash": head}
        )

    async def _resync(self) -> None:
        """After a failed commit, take the head from the store: it is the truth."""
        try:
            async with self._engine.connect() as conn:
                result = await conn.execute(
                    select(col(AuditChain.head_seq), col(AuditChain.head_hash)).where(
                        col(AuditChain.chain_id) == self.chain_id
                    )
                )
                found = result.first()
        except (SQLAlchemyError, OSError):
            return  # still down: the in-memory head is unchanged, so still right
        if found is not None:
            self._seq, self._head = found[0], found[1]


def _shape_rows(shapes: Iterable[DecisionShape]) -> list[dict[str, str]]:
    return [
        {"shape_id": s.id, "revision": s.revision, "input": s.input, "result": s.result}
        for s in shapes
    ]


def _fail(item: _Pending) -> None:
    if not item.done.done():
        item.done.set_exception(
            AuditWriteFailed("the audit store could not be written")
        )

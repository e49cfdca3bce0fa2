"""The durable audit writer: group commit that flushes as soon as the writer is free.

`append()` queues a draft and returns once its event is committed, or raises
`AuditWriteFailed`, in which case nothing of it is stored. One background task
drains the queue: everything queued while the previous transaction ran goes into
the next one, so durability costs one commit per batch, not per request. Each
writer owns its chain, so writers never contend for a chain head. On SQLite the
writer has a connection of its own and waits for the disk's fsync on a thread
of its own, so the event loop keeps serving requests (and filling the next
batch) meanwhile; PostgreSQL's driver waits without holding the loop already.
What one commit writes is `audit.batch`.

A failed transaction stores nothing. If the store itself failed (locked, full,
unreachable, timed out, no pooled connection free), every append of the batch
fails at once: retrying them one by one would only wait out the same timeout
again each time. If one append may be at fault (a constraint its `also` broke,
a detail that cannot be encoded), the others are retried without it. Either
way the writer then takes its chain's head from the store, which is the truth
even when a commit failed after reaching the server; while the store cannot
even be read, the next batch reads the head first, so the chain never forks or
leaves a gap.

Statements passed as `also` (for example a consent event) commit in the same
transaction as their audit event: both are stored, or neither. So do the
`audit_subjects` rows of an event that lists `SUBJECT_REFS` in its detail, and
the decision shape an event names, the first time this writer commits it
(insert-if-absent, so writers in other processes may have stored it already).

The queue depth, each commit's time, committed events and failed commits are
metrics (`governance.observability.metrics`).
"""

import asyncio
import os
import socket
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any, TypeVar

import structlog
from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    IntegrityError,
    ProgrammingError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

from adapters.sql.engine import blocking_twin
from audit.batch import (
    Also,
    LinkedBatch,
    link_batch,
    store_batch,
    store_batch_async,
)
from audit.chain import genesis_hash
from audit.models import AuditChain
from audit.record import AuditDraft, utc_now_iso
from governance.errors import AppendRejected, AuditWriteFailed
from governance.observability.metrics import (
    AUDIT_COMMIT_SECONDS,
    AUDIT_COMMITTED,
    AUDIT_FAILED,
    AUDIT_QUEUED,
)

_MAX_BATCH = 512
# Shape ids this writer has committed, remembered so a shape is inserted once;
# one forgotten is only inserted again (and ignored by the store).
_KNOWN_SHAPES = 16384
_log = structlog.get_logger(__name__)
T = TypeVar("T")


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
        # SQLite: commits run on a thread of their own, on a connection of their
        # own, so the event loop serves requests while the disk syncs.
        self._blocking = blocking_twin(engine)
        self._thread = ThreadPoolExecutor(1, "audit-commit")
        self._shapes: OrderedDict[str, None] = OrderedDict()
        # Set when a commit failed and the head could not be read back since.
        self._stale = False

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
        if self._blocking is not None:
            await self._on_thread(self._blocking.dispose)
        self._thread.shutdown()

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
        AUDIT_QUEUED.inc(len(drafts))
        try:
            return await pending.done
        finally:
            AUDIT_QUEUED.dec(len(drafts))

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
        if self._stale and not await self._resync():
            _fail(batch)  # the store cannot even be read: no commit can succeed
            return
        try:
            rows = await self._commit(batch)
        except Exception as exc:
            AUDIT_FAILED.inc()
            _log.warning(
                "audit_commit_failed", events=len(batch), error=type(exc).__name__
            )
            await self._resync()
            if len(batch) > 1 and not _store_failed(exc):
                for item in batch:  # one bad append must not sink its neighbours
                    await self._commit_batch([item])
                return
            _fail(batch, rejected=isinstance(exc, IntegrityError))
            return
        for item in batch:
            mine, rows = rows[: len(item.drafts)], rows[len(item.drafts) :]
            if not item.done.done():
                item.done.set_result(mine)

    async def _commit(self, batch: list[_Pending]) -> list[dict[str, Any]]:
        linked = link_batch(
            (d for item in batch for d in item.drafts),
            chain_id=self.chain_id,
            seq=self._seq,
            head=self._head,
            stored_shapes=self._shapes,
        )
        also = [extra for item in batch for extra in item.also]
        started = perf_counter()
        try:
            if self._blocking is None:
                async with self._engine.begin() as conn:
                    await store_batch_async(conn, linked, also)
            else:
                await self._store_on_sqlite(self._blocking, linked, also)
        finally:
            AUDIT_COMMIT_SECONDS.observe(perf_counter() - started)
        AUDIT_COMMITTED.inc(len(linked.rows))
        self._seq, self._head = linked.seq, linked.head
        self._remember(linked)
        return linked.rows

    async def _store_on_sqlite(
        self, engine: Engine, linked: LinkedBatch, also: Sequence[Also]
    ) -> None:
        """Insert on the loop, then wait for the disk on the thread.

        The inserts stay on the loop: on the thread they would take and release
        the GIL around every row while the loop is busy, and wait for it each
        time (up to the 5 ms switch interval). The first insert takes the write
        lock, inline like every SQLite write of the proxy, so another writer in
        this process (the checkpoint sealer) never waits on the loop for a lock
        whose holder needs the loop to finish. The fsync needs the GIL once.
        """
        with engine.connect() as conn:  # closing it after a failure rolls back
            store_batch(conn, linked, also)
            await self._on_thread(conn.commit)

    async def _on_thread(self, work: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(
            self._thread, work, *args
        )

    def _remember(self, linked: LinkedBatch) -> None:
        self._shapes.update(dict.fromkeys(linked.shapes))
        while len(self._shapes) > _KNOWN_SHAPES:
            self._shapes.popitem(last=False)

    async def _resync(self) -> bool:
        """After a failed commit, take the head from the store: it is the truth.

        Returns:
            Whether the head was read; if not, the next batch tries again first.
        """
        try:
            async with self._engine.connect() as conn:
                result = await conn.execute(
                    select(col(AuditChain.head_seq), col(AuditChain.head_hash)).where(
                        col(AuditChain.chain_id) == self.chain_id
                    )
                )
                found = result.first()
        except (SQLAlchemyError, OSError, TimeoutError):
            self._stale = True
            return False
        if found is not None:
            self._seq, self._head = found[0], found[1]
        self._stale = False
        return True


def _store_failed(exc: Exception) -> bool:
    """Whether the store failed, rather than one statement of one append."""
    if isinstance(exc, IntegrityError | DataError | ProgrammingError):
        return False
    return isinstance(exc, DBAPIError | OSError | TimeoutError | PoolTimeout)


def _fail(batch: list[_Pending], *, rejected: bool = False) -> None:
    for item in batch:
        if not item.done.done():
            item.done.set_exception(
                AppendRejected("the store refused to record this: nothing was stored")
                if rejected
                else AuditWriteFailed("the audit store could not be written")
            )

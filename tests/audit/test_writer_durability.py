"""The audit writer's durability on both stores: how it commits, and what a store outage does.

The store commits durably (SQLite: WAL with a full fsync per commit;
PostgreSQL: `synchronous_commit=on` whatever the database's default). While
another session holds the audit table's lock, appends fail together after one
bounded wait and store nothing; once the lock is gone the same writer appends
again, continuing its chain without a gap.
"""

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, closing
from dataclasses import replace
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from pg import execute, fetch, fresh_database, pg_url
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from audit.record import AuditDraft
from audit.verify import VerifyReport, verify_trail
from audit.writer import AuditWriter
from governance.errors import AuditWriteFailed
from governance.store import open_store

__all__ = ["pg_url"]  # fixture: imported so that pytest finds it

# SQLite: how long a write waits for another writer's lock (the URL's `timeout`).
SQLITE_BUSY_S = 0.2
APPENDS = 30
STORE_FIXTURES = {"sqlite": "sqlite_url", "postgresql": "pg_url"}


def draft(n: int) -> AuditDraft:
    """An access event numbered `n` in its detail."""
    return AuditDraft(
        kind="access.read", outcome="allowed", caller="campaign-sms", detail={"n": n}
    )


def sqlite_store(folder: Path) -> str:
    """A SQLite store in `folder` whose writes give up after SQLITE_BUSY_S on a held lock."""
    return f"sqlite+aiosqlite:///{folder / 'g.db'}?timeout={SQLITE_BUSY_S}"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite store for one test."""
    return sqlite_store(tmp_path)


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def store_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The URL of a fresh store of each kind, shared by one module's scenario."""
    if request.param == "sqlite":
        yield sqlite_store(tmp_path_factory.mktemp("outage"))
        return
    with fresh_database() as url:
        yield url


@asynccontextmanager
async def audit_table_locked(url: str) -> AsyncIterator[None]:
    """Another session holds the audit table's write lock until the block ends."""
    if url.startswith("sqlite"):
        path = make_url(url).database
        assert path is not None
        with closing(sqlite3.connect(path, isolation_level=None)) as other:
            other.execute("BEGIN EXCLUSIVE")
            try:
                yield
            finally:
                other.execute("ROLLBACK")
        return
    dsn = make_url(url).set(drivername="postgresql").render_as_string(False)
    other = await asyncpg.connect(dsn)
    locking = other.transaction()
    await locking.start()
    try:
        await other.execute("LOCK TABLE audit_events IN ACCESS EXCLUSIVE MODE")
        yield
    finally:
        await locking.rollback()
        await other.close()


def run(url: str, body: Callable[[AsyncEngine, AuditWriter], Awaitable[Any]]) -> Any:
    """Run `body` with a started writer on the store at `url`."""

    async def scenario() -> Any:
        store = await open_store(url)
        writer = AuditWriter(store)
        await writer.start()
        try:
            return await body(store, writer)
        finally:
            await writer.stop()
            await store.dispose()

    return asyncio.run(scenario())


@pytest.fixture(scope="module")
def outage(store_url: str) -> dict[str, Any]:
    """One event stored, APPENDS appends while the table is locked, one after it is free."""
    attempts: list[int] = []

    async def body(store: AsyncEngine, writer: AuditWriter) -> dict[str, Any]:
        first = await writer.append(draft(0))
        real_commit = writer._commit

        async def counted(batch: list[Any]) -> list[dict[str, Any]]:
            attempts.append(len(batch))
            return await real_commit(batch)

        writer._commit = counted  # type: ignore[method-assign]
        async with audit_table_locked(store_url):
            failed = await asyncio.gather(
                *(writer.append(draft(n)) for n in range(1, APPENDS + 1)),
                return_exceptions=True,
            )
        after = await writer.append(draft(APPENDS + 1))
        async with store.connect() as conn:
            stored = (
                await conn.execute(text("SELECT detail FROM audit_events ORDER BY seq"))
            ).all()
        return {
            "first": first,
            "failed": failed,
            "after": after,
            "stored": [r[0] for r in stored],
            "report": await verify_trail(store),
        }

    return run(store_url, body) | {"attempts": attempts}


class TestStoreOutage:
    """A locked audit table fails appends together, stores nothing of them, and passes."""

    def test_when_the_audit_table_is_locked_then_every_append_fails(self, outage):
        """Each append made while the lock is held raises AuditWriteFailed."""
        assert [type(r) for r in outage["failed"]] == [AuditWriteFailed] * APPENDS

    def test_when_the_audit_table_is_locked_then_the_batch_fails_after_one_wait(
        self, outage
    ):
        """The queued appends share one attempt: the lock is waited out once, not per append."""
        assert outage["attempts"][0] == APPENDS
        assert outage["attempts"][1:] == [1]  # the append after the outage

    def test_when_the_lock_is_released_then_the_same_writer_continues_its_chain(
        self, outage
    ):
        """The next append takes the seq after the last stored one and the trail verifies."""
        assert outage["after"]["seq"] == outage["first"]["seq"] + 1
        assert outage["report"] == VerifyReport(True, 2, 1, None)

    def test_when_appends_failed_then_none_of_them_is_stored(self, outage):
        """Only the events before and after the outage are in the store."""
        assert [json.loads(d)["n"] for d in outage["stored"]] == [0, APPENDS + 1]


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def fresh_store(request: pytest.FixtureRequest) -> str:
    """An empty store of each kind, for one test."""
    url: str = request.getfixturevalue(STORE_FIXTURES[request.param])
    return url


class TestOneBadEvent:
    """An event the store refuses sinks only its own append, on either store."""

    def test_when_an_event_id_repeats_in_a_batch_then_only_the_repeat_fails(
        self, fresh_store
    ):
        """Of three appends sharing a commit, the one reusing an event id fails alone."""
        first, twin, other = draft(1), draft(2), draft(3)
        twin = replace(twin, event_id=first.event_id)

        async def body(store: AsyncEngine, writer: AuditWriter) -> list[Any]:
            results = await asyncio.gather(
                *(writer.append(d) for d in (first, twin, other)),
                return_exceptions=True,
            )
            return [*results, await verify_trail(store)]

        stored_first, failed, stored_other, report = run(fresh_store, body)

        assert isinstance(failed, AuditWriteFailed)
        assert (stored_first["seq"], stored_other["seq"]) == (1, 2)
        assert report == VerifyReport(True, 2, 1, None)


class TestDurableCommits:
    """The store commits every transaction durably, whatever its defaults say."""

    def test_sqlite_store_runs_wal_with_a_full_fsync(self, sqlite_url):
        """Every store connection is in WAL mode with synchronous=FULL (2)."""

        async def body(store: AsyncEngine, _writer: AuditWriter) -> list[Any]:
            async with store.connect() as conn:
                return [
                    (await conn.exec_driver_sql(f"PRAGMA {p}")).scalar()
                    for p in ("journal_mode", "synchronous")
                ]

        assert run(sqlite_url, body) == ["wal", 2]

    @pytest.mark.postgres
    def test_postgres_store_commits_synchronously_even_if_the_database_says_not(
        self, pg_url
    ):
        """With the database's default off, store sessions still run synchronous_commit=on."""
        name = make_url(pg_url).database
        asyncio.run(
            execute(pg_url, f"ALTER DATABASE {name} SET synchronous_commit = off")
        )
        plain = asyncio.run(fetch(pg_url, "SHOW synchronous_commit"))

        async def body(store: AsyncEngine, _writer: AuditWriter) -> dict[str, Any]:
            async with store.connect() as conn:
                return {
                    p: (await conn.exec_driver_sql(f"SHOW {p}")).scalar()
                    for p in ("synchronous_commit", "lock_timeout", "statement_timeout")
                }

        shown = run(pg_url, body)

        assert plain[0][0] == "off"  # a plain session does get the database's default
        assert shown["synchronous_commit"] == "on"
        assert "0" not in (shown["lock_timeout"], shown["statement_timeout"])

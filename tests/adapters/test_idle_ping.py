"""Pooled PostgreSQL connections are pinged only after idling, against the real server.

What each test asserts is what the server was sent: asyncpg's query logger on
every connection the engine opens records each simple-protocol statement (and
whether it failed). Each checkout's own work runs in one BEGIN ... ROLLBACK;
SQLAlchemy's ping adds another, around the empty query `;`.
"""

import asyncio

import pytest
from pg import ADMIN_URL, execute, require_postgres
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql import engine as engines

pytestmark = pytest.mark.postgres
PING = ";"


Sent = list[tuple[str, bool]]  # (statement, whether it failed)


@pytest.fixture
def sent() -> Sent:
    require_postgres()
    return []


def logged_engine(sent: Sent) -> AsyncEngine:
    """The store's engine for the test server, recording every statement it sends."""
    engine = engines.create_engine(ADMIN_URL)

    def log_queries(dbapi_conn: object, _record: object) -> None:
        driver = dbapi_conn.driver_connection  # type: ignore[attr-defined]
        driver.add_query_logger(
            lambda q: sent.append((q.query, q.exception is not None))
        )

    event.listen(engine.sync_engine, "connect", log_queries)
    return engine


async def backend_pid(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def terminate(pid: int) -> None:
    await execute(ADMIN_URL, "SELECT pg_terminate_backend($1)", pid)
    await asyncio.sleep(0.05)  # the backend is gone before the client writes again


def test_a_connection_in_steady_use_is_not_pinged(sent):
    """Checkout after checkout within `IDLE_PING_S`: no round trip but the work."""

    async def scenario() -> list[int]:
        engine = logged_engine(sent)
        try:
            await backend_pid(engine)  # connects (and the dialect's own setup)
            sent.clear()
            return [await backend_pid(engine) for _ in range(20)]
        finally:
            await engine.dispose()

    pids = asyncio.run(scenario())

    assert len(set(pids)) == 1  # one pooled connection, reused
    assert (PING, False) not in sent
    assert sent.count(("BEGIN;", False)) == 20  # one transaction per checkout


def test_a_connection_idle_past_the_threshold_is_pinged_first(sent, monkeypatch):
    """Past `IDLE_PING_S` the pool pings the connection before handing it out."""
    monkeypatch.setattr(engines, "IDLE_PING_S", 0.1)

    async def scenario() -> tuple[int, int]:
        engine = logged_engine(sent)
        try:
            first = await backend_pid(engine)
            await asyncio.sleep(0.15)
            sent.clear()
            return first, await backend_pid(engine)
        finally:
            await engine.dispose()

    first, second = asyncio.run(scenario())

    assert second == first
    assert (PING, False) in sent
    assert sent.count(("BEGIN;", False)) == 2  # the ping's, then the work's


def test_a_connection_the_server_ended_in_the_pool_is_replaced_unused(sent):
    """A session the server ended (a restart, a kill) costs no request a 503."""

    async def scenario() -> tuple[int, int]:
        engine = logged_engine(sent)
        try:
            first = await backend_pid(engine)
            await terminate(first)
            sent.clear()
            return first, await backend_pid(engine)
        finally:
            await engine.dispose()

    first, second = asyncio.run(scenario())

    assert second != first
    # Nothing went out on the ended session: no ping, no failed statement; only
    # the request's own work, on the replacement.
    assert sent == [("BEGIN;", False), ("ROLLBACK;", False)]

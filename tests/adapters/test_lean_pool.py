"""The request path's lean PostgreSQL pool, against the real server.

Each test names its sessions (`application_name`) and counts them in
`pg_stat_activity`, so what is asserted is what the server sees: how many
backends a pool keeps, and that a read cut off leaves none behind.
"""

import asyncio
import socket
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import asyncpg
import pytest
from pg import ADMIN_URL, execute, fetch, require_postgres
from sqlalchemy.engine import make_url

from adapters.sql.lean_pool import LeanPool

pytestmark = pytest.mark.postgres
T = TypeVar("T")
DSN = (
    make_url(ADMIN_URL)
    .set(drivername="postgresql")
    .render_as_string(hide_password=False)
)


@pytest.fixture
def app_name() -> Iterator[str]:
    require_postgres()
    name = f"leanpool_{uuid.uuid4().hex[:12]}"
    yield name
    asyncio.run(
        execute(
            ADMIN_URL,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name = $1",
            name,
        )
    )


def pool_for(name: str, *, size: int = 2, wait_s: float = 1.0) -> LeanPool:
    return LeanPool(
        DSN,
        size=size,
        connect_s=3.0,
        wait_s=wait_s,
        server_settings={"application_name": name, "statement_timeout": "10s"},
    )


async def backends(name: str) -> list[int]:
    """The server's live sessions of this test, by pid."""
    rows = await fetch(
        ADMIN_URL,
        "SELECT pid FROM pg_stat_activity WHERE application_name = $1 ORDER BY pid",
        name,
    )
    return [r["pid"] for r in rows]


async def settled(name: str, expected: int) -> list[int]:
    """The sessions once their count is `expected` (a terminated backend takes a moment)."""
    for _ in range(100):
        pids = await backends(name)
        if len(pids) == expected:
            return pids
        await asyncio.sleep(0.02)
    return await backends(name)


def run(test: Callable[[LeanPool], Awaitable[T]], pool: LeanPool) -> T:
    async def main() -> T:
        try:
            return await test(pool)
        finally:
            await pool.close()

    return asyncio.run(main())


async def pid_of(pool: LeanPool) -> int:
    rows = await pool.fetch("SELECT pg_backend_pid()", within=2)
    return int(rows[0][0])


def test_sequential_reads_reuse_one_session(app_name: str) -> None:
    async def scenario(pool: LeanPool) -> None:
        pids = {await pid_of(pool) for _ in range(20)}
        assert len(pids) == 1
        assert await backends(app_name) == sorted(pids)
        rows = await pool.fetch("SELECT $1::text || '!'", "参数", within=2)
        assert rows[0][0] == "参数!"

    run(scenario, pool_for(app_name))


def test_concurrent_reads_never_open_more_than_the_size(app_name: str) -> None:
    async def scenario(pool: LeanPool) -> None:
        async def slow(i: int) -> int:
            rows = await pool.fetch("SELECT $1::int FROM pg_sleep(0.05)", i, within=5)
            return int(rows[0][0])

        answers = await asyncio.gather(*(slow(i) for i in range(12)))
        assert answers == list(range(12))
        assert len(await backends(app_name)) == 3

    run(scenario, pool_for(app_name, size=3))


def test_a_full_pool_refuses_after_its_wait(app_name: str) -> None:
    async def scenario(pool: LeanPool) -> None:
        holder = asyncio.create_task(pool.fetch("SELECT pg_sleep(1.5)", within=5))
        await asyncio.sleep(0.3)  # the one connection is busy
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            await pool.fetch("SELECT 1", within=5)
        assert 0.15 <= time.monotonic() - started < 1.0
        await holder  # the busy read still completes
        assert (await pool.fetch("SELECT 1", within=2))[0][0] == 1

    run(scenario, pool_for(app_name, size=1, wait_s=0.2))


def test_a_waiting_read_gets_the_connection_given_back(app_name: str) -> None:
    async def scenario(pool: LeanPool) -> None:
        first = asyncio.create_task(pool.fetch("SELECT 1 FROM pg_sleep(0.3)", within=5))
        await asyncio.sleep(0.05)
        second = await pool.fetch("SELECT 2", within=5)
        assert second[0][0] == 2
        assert (await first)[0][0] == 1
        assert len(await backends(app_name)) == 1

    run(scenario, pool_for(app_name, size=1, wait_s=2))


def test_a_statement_past_the_deadline_is_cut_off_and_its_session_ended(
    app_name: str,
) -> None:
    async def scenario(pool: LeanPool) -> None:
        await pid_of(pool)
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            await pool.fetch("SELECT pg_sleep(5)", within=0.3)
        assert time.monotonic() - started < 1.0
        # Nothing keeps running on the server, and the pool opens a new session.
        assert await settled(app_name, 0) == []
        assert (await pool.fetch("SELECT 1", within=2))[0][0] == 1

    run(scenario, pool_for(app_name))


def test_a_cancelled_read_ends_its_session(app_name: str) -> None:
    async def scenario(pool: LeanPool) -> None:
        read = asyncio.create_task(pool.fetch("SELECT pg_sleep(5)", within=10))
        await asyncio.sleep(0.3)
        read.cancel()
        with pytest.raises(asyncio.CancelledError):
            await read
        assert await settled(app_name, 0) == []
        assert await pid_of(pool) > 0

    run(scenario, pool_for(app_name))


def test_a_refused_statement_keeps_its_session(app_name: str) -> None:
    async def scenario(pool: LeanPool) -> None:
        pid = await pid_of(pool)
        with pytest.raises(asyncpg.DivisionByZeroError):
            await pool.fetch("SELECT 1 / $1::int", 0, within=2)
        await pool.fetch(
            "SELECT set_config('statement_timeout', '50ms', false)", within=2
        )
        with pytest.raises(
            asyncpg.QueryCanceledError
        ):  # the server's statement_timeout
            await pool.fetch("SELECT pg_sleep(1)", within=5)
        assert await pid_of(pool) == pid

    run(scenario, pool_for(app_name, size=1))


def test_terminated_sessions_cost_no_read_and_the_pool_reconnects(
    app_name: str,
) -> None:
    async def scenario(pool: LeanPool) -> None:
        await asyncio.gather(
            *(pool.fetch("SELECT pg_sleep(0.1)", within=5) for _ in range(3))
        )
        before = await backends(app_name)
        assert len(before) == 3
        await execute(
            ADMIN_URL,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name = $1",
            app_name,
        )
        await settled(app_name, 0)
        for _ in range(3):
            await pool.fetch("SELECT 1", within=2)
        after = await backends(app_name)
        assert len(after) == 1
        assert not set(after) & set(before)

    run(scenario, pool_for(app_name, size=3))


def test_a_read_on_a_session_ended_unnoticed_runs_again_on_a_new_one(
    app_name: str,
) -> None:
    """The server ends the pooled session while the event loop is blocked, so
    asyncpg has not seen the socket close when the next read takes it."""

    async def scenario(pool: LeanPool) -> None:
        first = await pid_of(pool)
        terminator = threading.Thread(
            target=asyncio.run,
            args=(execute(ADMIN_URL, "SELECT pg_terminate_backend($1)", first),),
        )
        terminator.start()
        terminator.join()  # blocks the loop: no chance to read the EOF
        time.sleep(0.3)  # the server closes the socket meanwhile

        second = await pid_of(pool)

        assert second != first
        assert await settled(app_name, 1) == [second]

    run(scenario, pool_for(app_name))


def test_an_unreachable_server_fails_within_the_connect_bound() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    pool = LeanPool(
        f"postgresql://postgres@127.0.0.1:{port}/test",
        size=1,
        connect_s=0.5,
        wait_s=0.5,
        server_settings={},
    )

    async def scenario(pool: LeanPool) -> None:
        for _ in range(3):  # a failed connect frees its slot
            with pytest.raises(ConnectionRefusedError):
                await pool.fetch("SELECT 1", within=2)

    run(scenario, pool)


def test_a_closed_pool_refuses_and_leaves_no_session(app_name: str) -> None:
    async def scenario() -> None:
        pool = pool_for(app_name)
        await pid_of(pool)
        await pool.close()
        assert await settled(app_name, 0) == []
        with pytest.raises(asyncpg.InterfaceError):
            await pool.fetch("SELECT 1", within=1)

    asyncio.run(scenario())

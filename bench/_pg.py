"""PostgreSQL for the benchmarks: reach the server, make a throwaway database.

Each bench takes `--pg-url` (default `DEFAULT_PG_URL`), an asyncpg URL of a
database to administer from, creates `gov_bench_<random hex>` (UTF-8, from
template0) for its run and drops it afterwards, so runs never see each other's
tables.
"""

import asyncio
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import asyncpg
from sqlalchemy.engine import make_url

DEFAULT_PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
CONNECT_TIMEOUT_S = 3.0
UNREACHABLE = (OSError, TimeoutError, asyncpg.PostgresError)
"""What connecting to a server that is down, refuses or is misconfigured raises."""


def dsn(url: str) -> str:
    """An asyncpg DSN for a SQLAlchemy `postgresql+asyncpg` URL."""
    return (
        make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    )


def redacted(url: str) -> str:
    """`url` fit to print: its password hidden."""
    return make_url(url).render_as_string(hide_password=True)


async def connect(url: str) -> asyncpg.Connection:
    """One connection to the database at `url` (a SQLAlchemy URL)."""
    return await asyncpg.connect(dsn(url), timeout=CONNECT_TIMEOUT_S)


async def _admin(admin_url: str, statement: str) -> None:
    conn = await connect(admin_url)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    """Create `gov_bench_<random>`, yield its URL, drop it."""
    name = f"gov_bench_{uuid.uuid4().hex[:12]}"
    create = f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8'"
    asyncio.run(_admin(admin_url, create))
    try:
        yield (
            make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        )
    finally:
        asyncio.run(_admin(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


def server_description(admin_url: str) -> str:
    """The server's version and the settings that bear on a bench.

    Raises:
        OSError, TimeoutError, asyncpg.PostgresError: The server cannot be used
            (`UNREACHABLE`).
    """

    async def probe() -> str:
        conn = await connect(admin_url)
        try:
            version = await conn.fetchval("SHOW server_version")
            fsync = await conn.fetchval("SHOW fsync")
            buffers = await conn.fetchval("SHOW shared_buffers")
        finally:
            await conn.close()
        return (
            f"PostgreSQL {str(version).split()[0]}"
            f" (fsync={fsync}, shared_buffers {buffers})"
        )

    return asyncio.run(probe())


def activity(admin_url: str, databases: Sequence[str]) -> tuple[int, int]:
    """Sessions ever opened and transactions ever ended on `databases` (PostgreSQL 14+).

    From pg_stat_database, which backends update at most about once a second:
    read it a second after the activity to count.
    """

    async def count() -> tuple[int, int]:
        conn = await connect(admin_url)
        try:
            row = await conn.fetchrow(
                "SELECT coalesce(sum(sessions), 0),"
                " coalesce(sum(xact_commit + xact_rollback), 0)"
                " FROM pg_stat_database WHERE datname = any($1::text[])",
                list(databases),
            )
        finally:
            await conn.close()
        return int(row[0]), int(row[1])

    return asyncio.run(count())

"""PostgreSQL for tests: reach the server, make a throwaway database, load customers.

Settings are read once, when a test module imports this one during collection.
That is before any fixture runs, and so before the autouse `_clean_environ`
fixture of `conftest.py` removes every `GOV_*` variable for each test:

- `GOV_TEST_PG_URL`: an asyncpg URL of a database to administer from
  (default `postgresql+asyncpg://postgres@127.0.0.1:5432/test`).
- `GOV_REQUIRE_SERVICES=1`: an unreachable server fails the test (`pytest.fail`,
  shown as an error in fixture setup) instead of skipping it.

Every database is created as `gov_<random hex>` and dropped afterwards, so
concurrent runs and reruns never see each other's tables. Fixtures must be
imported into each test module that uses them (`--import-mode=importlib`).
"""

import asyncio
import functools
import os
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import fields

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from governance.demo.dataset import Customer, generate_customers

DEFAULT_ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
ADMIN_URL = os.environ.get("GOV_TEST_PG_URL", DEFAULT_ADMIN_URL)
REQUIRE_SERVICES = os.environ.get("GOV_REQUIRE_SERVICES") == "1"
CONNECT_TIMEOUT_S = 3.0

SEED = 7
COUNT = 200

_CUSTOMER_TABLES = """
CREATE TABLE customers (
    customer_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    nickname TEXT NOT NULL,
    mobile TEXT NOT NULL,
    id_number TEXT NOT NULL,
    email TEXT NOT NULL,
    address TEXT NOT NULL,
    birth_date DATE NOT NULL,
    bank_card TEXT NOT NULL,
    service_note TEXT NOT NULL
);
CREATE TABLE customer_tags (
    customer_id TEXT NOT NULL REFERENCES customers (customer_id),
    tag TEXT NOT NULL,
    PRIMARY KEY (customer_id, tag)
);
"""
_CUSTOMER_COLUMNS = tuple(f.name for f in fields(Customer) if f.name != "tags")


def demo_customers() -> list[Customer]:
    """The customers every PostgreSQL and SQLite source test loads."""
    return generate_customers(seed=SEED, count=COUNT)


def database_url(name: str, base: str = ADMIN_URL) -> str:
    """`base` with its database replaced by `name`, credentials kept."""
    return make_url(base).set(database=name).render_as_string(hide_password=False)


def _dsn(url: str) -> str:
    """An asyncpg DSN for a SQLAlchemy `postgresql+asyncpg` URL."""
    return (
        make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    )


async def _connect(url: str) -> asyncpg.Connection:
    return await asyncpg.connect(_dsn(url), timeout=CONNECT_TIMEOUT_S)


@functools.cache
def unreachable_reason() -> str | None:
    """Why the server cannot be used, or None when it answers; probed once per run."""

    async def probe() -> None:
        conn = await _connect(ADMIN_URL)
        await conn.close()

    try:
        asyncio.run(probe())
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        where = make_url(ADMIN_URL).render_as_string(hide_password=True)
        return f"PostgreSQL at {where} unreachable ({type(exc).__name__}: {exc})"
    return None


def require_postgres() -> None:
    """Skip without the server; fail instead when GOV_REQUIRE_SERVICES=1."""
    reason = unreachable_reason()
    if reason is None:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason}; GOV_REQUIRE_SERVICES=1 makes this a failure")
    pytest.skip(f"{reason}; set GOV_TEST_PG_URL or start the server")


async def _admin(statement: str) -> None:
    conn = await _connect(ADMIN_URL)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@contextmanager
def fresh_database() -> Iterator[str]:
    """Create `gov_<random>` (UTF-8, from template0), yield its URL, then drop it."""
    require_postgres()
    name = f"gov_{uuid.uuid4().hex[:16]}"
    asyncio.run(_admin(f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8'"))
    try:
        yield database_url(name)
    finally:
        asyncio.run(_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


async def execute(url: str, statement: str, *args: object) -> str:
    """Run one statement on the database at `url`; return its status line."""
    conn = await _connect(url)
    try:
        status: str = await conn.execute(statement, *args)
        return status
    finally:
        await conn.close()


async def fetch(url: str, query: str, *args: object) -> list[asyncpg.Record]:
    """Rows of one query on the database at `url`."""
    conn = await _connect(url)
    try:
        return list(await conn.fetch(query, *args))
    finally:
        await conn.close()


def write_customer_tables(url: str, customers: Sequence[Customer]) -> None:
    """Create `customers` and `customer_tags` at `url`, as the demo SQLite store has them."""

    async def write() -> None:
        conn = await _connect(url)
        try:
            async with conn.transaction():
                await conn.execute(_CUSTOMER_TABLES)
                await conn.copy_records_to_table(
                    "customers",
                    records=[
                        [getattr(c, k) for k in _CUSTOMER_COLUMNS] for c in customers
                    ],
                    columns=_CUSTOMER_COLUMNS,
                )
                await conn.copy_records_to_table(
                    "customer_tags",
                    records=[(c.customer_id, t) for c in customers for t in c.tags],
                    columns=("customer_id", "tag"),
                )
        finally:
            await conn.close()

    asyncio.run(write())


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test."""
    with fresh_database() as url:
        yield url


@pytest.fixture(scope="module")
def pg_customers_url() -> Iterator[str]:
    """A fresh PostgreSQL database holding the demo customer tables, per module."""
    with fresh_database() as url:
        write_customer_tables(url, demo_customers())
        yield url

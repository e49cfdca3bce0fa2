"""MariaDB (or MySQL) for tests: reach the server, make a throwaway database per session.

Settings are read once, at import, as in `pg`:

- `GOV_TEST_MARIADB_URL`: a `mysql+aiomysql` URL of a database to administer
  from (default `mysql+aiomysql://root@127.0.0.1:3306/test`).
- `GOV_REQUIRE_SERVICES=1`: an unreachable server fails the test instead of
  skipping it.

The session's database is created as `gov_<random hex>` with the server's
default `utf8mb4` collation (case-insensitive, padding spaces: the pitfalls the
sources must survive) and dropped when the session ends. Administration goes
through PyMySQL, the synchronous protocol library under aiomysql. Fixtures must
be imported into each test module that uses them (`--import-mode=importlib`).
"""

import functools
import os
import uuid
from collections.abc import Iterator, Sequence
from contextlib import closing
from typing import Any

import pymysql
import pytest
from sqlalchemy.engine import make_url

DEFAULT_ADMIN_URL = "mysql+aiomysql://root@127.0.0.1:3306/test"
ADMIN_URL = os.environ.get("GOV_TEST_MARIADB_URL", DEFAULT_ADMIN_URL)
REQUIRE_SERVICES = os.environ.get("GOV_REQUIRE_SERVICES") == "1"
CONNECT_TIMEOUT_S = 3


def database_url(name: str, base: str = ADMIN_URL) -> str:
    """`base` with its database replaced by `name`, credentials kept."""
    return make_url(base).set(database=name).render_as_string(hide_password=False)


def connect(url: str) -> pymysql.Connection:
    """An autocommitting utf8mb4 connection to the database at `url`."""
    parts = make_url(url)
    return pymysql.connect(
        host=parts.host or "127.0.0.1",
        port=parts.port or 3306,
        user=parts.username or "root",
        password=parts.password or "",
        database=parts.database,
        charset="utf8mb4",
        connect_timeout=CONNECT_TIMEOUT_S,
        autocommit=True,
    )


@functools.cache
def unreachable_reason() -> str | None:
    """Why the server cannot be used, or None when it answers; probed once per run."""
    try:
        connect(ADMIN_URL).close()
    except pymysql.MySQLError as exc:
        where = make_url(ADMIN_URL).render_as_string(hide_password=True)
        return f"MariaDB at {where} unreachable ({type(exc).__name__}: {exc})"
    return None


def require_mariadb() -> None:
    """Skip without the server; fail instead when GOV_REQUIRE_SERVICES=1."""
    reason = unreachable_reason()
    if reason is None:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason}; GOV_REQUIRE_SERVICES=1 makes this a failure")
    pytest.skip(f"{reason}; set GOV_TEST_MARIADB_URL or start the server")


def execute(url: str, statements: Sequence[str]) -> None:
    """Run `statements` in order on the database at `url`."""
    with closing(connect(url)) as conn, conn.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def fetch(url: str, query: str, args: Sequence[object] = ()) -> list[tuple[Any, ...]]:
    """Rows of one query on the database at `url`."""
    with closing(connect(url)) as conn, conn.cursor() as cursor:
        cursor.execute(query, args or None)
        return list(cursor.fetchall())


@pytest.fixture(scope="session")
def mariadb_url() -> Iterator[str]:
    """A fresh utf8mb4 database for the whole test session, dropped after it."""
    require_mariadb()
    name = f"gov_{uuid.uuid4().hex[:16]}"
    execute(ADMIN_URL, [f"CREATE DATABASE {name} CHARACTER SET utf8mb4"])
    try:
        yield database_url(name)
    finally:
        execute(ADMIN_URL, [f"DROP DATABASE IF EXISTS {name}"])

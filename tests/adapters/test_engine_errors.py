"""Errors from every engine the proxy makes never quote the statement's parameters.

A bound parameter is often a subject id or another personal value, and a
driver error's text reaches exceptions, and from there perhaps a log line. Each
engine factory is asked to run a statement that fails, with a personal value
bound; the error must name the statement, not the value.
"""

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from mariadb import ADMIN_URL as MARIADB_URL
from mariadb import require_mariadb
from pg import ADMIN_URL as PG_URL
from pg import require_postgres
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sources.engines import Timeouts, create_source_engine
from adapters.sql.engine import blocking_twin, create_engine

PERSONAL = "13812345678"
FAILING = text("SELECT * FROM no_such_table WHERE mobile = :mobile")


def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"


def error_text(engine: AsyncEngine) -> str:
    async def run() -> str:
        try:
            async with engine.connect() as conn:
                await conn.execute(FAILING, {"mobile": PERSONAL})
        except SQLAlchemyError as exc:
            return str(exc)
        finally:
            await engine.dispose()
        raise AssertionError("the statement did not fail")

    return asyncio.run(run())


def store_postgresql(_tmp: Path) -> AsyncEngine:
    require_postgres()
    return create_engine(PG_URL)


def source_postgresql(_tmp: Path) -> AsyncEngine:
    require_postgres()
    return create_source_engine(PG_URL, Timeouts())


def source_mariadb(_tmp: Path) -> AsyncEngine:
    require_mariadb()
    return create_source_engine(MARIADB_URL, Timeouts())


FACTORIES: dict[str, Callable[[Path], AsyncEngine]] = {
    "store-sqlite": lambda tmp: create_engine(sqlite_url(tmp)),
    "store-postgresql": store_postgresql,
    "source-sqlite": lambda tmp: create_source_engine(sqlite_url(tmp), Timeouts()),
    "source-postgresql": source_postgresql,
    "source-mariadb": source_mariadb,
}


@pytest.mark.parametrize("factory", list(FACTORIES))
def test_a_failed_statement_names_no_bound_value(tmp_path, factory):
    """The error says what failed, and not with which values."""
    message = error_text(FACTORIES[factory](tmp_path))

    assert "no_such_table" in message
    assert PERSONAL not in message


def test_the_audit_writers_blocking_twin_names_no_bound_value(tmp_path):
    """SQLite's audit writer commits through a blocking twin of the store's engine."""
    twin = blocking_twin(create_engine(sqlite_url(tmp_path)))
    assert twin is not None
    with pytest.raises(SQLAlchemyError) as raised, twin.connect() as conn:
        conn.execute(FAILING, {"mobile": PERSONAL})
    twin.dispose()

    assert "no_such_table" in str(raised.value)
    assert PERSONAL not in str(raised.value)

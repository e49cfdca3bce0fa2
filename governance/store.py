"""The governance store: one SQL database for callers, the consent ledger and the audit trail.

`open_store(url)` returns an async engine configured for durability (SQLite:
WAL with full fsync, a busy timeout so several workers can share one file) and
creates the tables on first use.
"""

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlmodel import SQLModel

import audit.models
import governance.auth.models
import governance.consent.models

# Imported for their side effect: each module registers its tables.
_TABLE_MODULES = (audit.models, governance.auth.models, governance.consent.models)


def create_engine(url: str) -> AsyncEngine:
    """Create an async engine; SQLite connections get durable pragmas."""
    engine = create_async_engine(url, pool_pre_ping=not url.startswith("sqlite"))
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    for pragma in (
        "journal_mode=WAL",
        "synchronous=FULL",
        "busy_timeout=5000",
        "foreign_keys=ON",
    ):
        cur.execute(f"PRAGMA {pragma}")
    cur.close()


async def open_store(url: str) -> AsyncEngine:
    """Open the store at `url` and create missing tables."""
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(SQLModel.metadata.create_all)
    return engine

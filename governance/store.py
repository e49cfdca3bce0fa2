"""The governance store: one SQL database for callers, the consent ledger and the audit trail.

`open_store(url)` returns an async engine (see `adapters.sql.engine`: SQLite
with WAL and full fsync, or PostgreSQL) and brings the schema to the newest
revision (`governance.schema`) on first use.
"""

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

import audit.models
import governance.auth.models
import governance.consent.models
from adapters.sql.engine import create_engine
from governance.schema import migrate

# Imported for their side effect: each module registers its tables.
_TABLE_MODULES = (audit.models, governance.auth.models, governance.consent.models)
# PostgreSQL: instances starting together take turns creating tables and
# triggers (`CREATE ... IF NOT EXISTS` races); released when the transaction ends.
_CREATE_LOCK = text("SELECT pg_advisory_xact_lock(1735358064)")  # b"govp"


async def open_store(url: str) -> AsyncEngine:
    """Open the store at `url` and create missing tables."""
    engine = create_engine(url)
    async with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            await conn.execute(_CREATE_LOCK)
        await conn.run_sync(migrate)
    return engine

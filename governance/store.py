"""The governance store: one SQL database for callers, the consent ledger and the audit trail.

`open_store(url)` returns an async engine (see `adapters.sql.engine`: SQLite
with WAL and a full fsync on every commit, or PostgreSQL with
`synchronous_commit=on` and bounded lock and statement waits) and brings the
schema to the newest revision (`governance.schema`) on first use.
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
# Migrating may wait for another instance doing it, or fill `consent_current`
# from a long ledger: that one transaction runs without the session's lock and
# statement timeouts, on a connection without the client's bound on each
# statement (`adapters.sql.engine.PG_COMMAND_S`), closed when it is done.
_UNBOUNDED = text(
    "SELECT set_config('lock_timeout', '0', true),"
    " set_config('statement_timeout', '0', true)"
)


async def open_store(url: str) -> AsyncEngine:
    """Open the store at `url` and bring its schema to the newest revision."""
    engine = create_engine(url)
    if engine.dialect.name != "postgresql":
        async with engine.begin() as conn:  # an in-memory SQLite: this engine's own
            await conn.run_sync(migrate)
        return engine
    migrating = create_engine(url, bounded=False)
    try:
        async with migrating.begin() as conn:
            await conn.execute(_UNBOUNDED)
            await conn.execute(_CREATE_LOCK)
            await conn.run_sync(migrate)
    finally:
        await migrating.dispose()
    return engine

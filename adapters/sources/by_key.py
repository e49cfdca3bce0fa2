"""Reads of one record by key on SQLite and PostgreSQL sources, without SQLAlchemy.

A governed read fetches its subject twice by key (the facts the policy needs,
then the released columns). Through SQLAlchemy's async engine each fetch costs
a pool checkout, a transaction and result handling around a lookup of a few
microseconds, and on PostgreSQL a pre-ping and BEGIN/ROLLBACK round trips. These
readers run the statement SQLAlchemy compiled for the source's dialect on a
plain connection: SQLite a read-only `sqlite3` connection inline on the loop (as
the store's own readers do), PostgreSQL an asyncpg pool. Both keep the source's
bounds (`adapters.sources.engines.Timeouts`): SQLite's progress handler aborts a
statement past `statement_s`; PostgreSQL connects within `connect_s`, runs under
the server's `statement_timeout`, and the caller's deadline covers the wait for a
pooled connection. MySQL and MariaDB sources keep the engine.

Errors are the drivers' own; `SqlDataSource` turns them into
`DataSourceUnavailable`, which names the source and never its URL.
"""

import asyncio
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import asyncpg
from sqlalchemy.engine import make_url

from adapters.sources.engines import Timeouts
from adapters.sql.engine import PG_POOL

_PROGRESS_STEPS = 1000  # SQLite VM steps between deadline checks
DRIVER_ERRORS = (
    sqlite3.Error,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    OSError,
    TimeoutError,
)
"""What a by-key read raises when its source fails."""


class KeyReader(Protocol):
    """Runs a compiled by-key statement with the subject id as its one parameter."""

    async def rows(self, sql: str, subject_id: str) -> Sequence[Sequence[Any]]:
        """The rows the statement selects; driver errors propagate."""
        ...

    async def close(self) -> None:
        """Release every connection."""
        ...


class SqliteKeyReader:
    """By-key reads on one SQLite source file, read-only, inline on the loop."""

    def __init__(self, path: Path, timeouts: Timeouts) -> None:
        self._path = path
        self._statement_s = timeouts.statement_s
        self._deadline = float("inf")
        self._conn: sqlite3.Connection | None = None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(
                f"{self._path.resolve().as_uri()}?mode=ro",
                uri=True,
                isolation_level=None,  # autocommit: never a transaction left open
                check_same_thread=False,  # used from one event loop at a time
            )
            conn.set_progress_handler(self._past_deadline, _PROGRESS_STEPS)
            self._conn = conn
        return self._conn

    def _past_deadline(self) -> bool:
        return time.monotonic() > self._deadline

    async def rows(self, sql: str, subject_id: str) -> Sequence[Sequence[Any]]:
        """Run `sql` (qmark style) within `statement_s`."""
        try:
            conn = self._connection()
            self._deadline = time.monotonic() + self._statement_s
            return conn.execute(sql, (subject_id,)).fetchall()
        except sqlite3.Error:
            await self.close()  # the next read reopens: a replaced file is seen
            raise

    async def close(self) -> None:
        """Close the connection (a later read reopens it)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


class PgKeyReader:
    """By-key reads on one PostgreSQL source through an asyncpg pool of its own."""

    def __init__(self, url: str, timeouts: Timeouts) -> None:
        self._dsn = make_url(url).set(drivername="postgresql")
        self._timeouts = timeouts
        self._pool: asyncpg.Pool | None = None
        self._opening = asyncio.Lock()

    async def _ready(self) -> asyncpg.Pool:
        async with self._opening:
            if self._pool is None:
                # min_size 0: opening connects nowhere, so a source that is down
                # costs each read its own bounded connect, not a queue of them.
                self._pool = await asyncpg.create_pool(
                    self._dsn.render_as_string(hide_password=False),
                    min_size=0,
                    max_size=PG_POOL,
                    timeout=self._timeouts.connect_s,
                    reset=_no_reset,
                    server_settings={
                        "statement_timeout": str(
                            round(self._timeouts.statement_s * 1000)
                        )
                    },
                )
            return self._pool

    async def rows(self, sql: str, subject_id: str) -> Sequence[Sequence[Any]]:
        """Run `sql` (`$1` style) on a pooled connection."""
        pool = await self._ready()
        async with pool.acquire() as conn:
            rows: list[asyncpg.Record] = await conn.fetch(sql, subject_id)
        return rows

    async def close(self) -> None:
        """Close the pool, if one was opened."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()


async def _no_reset(_conn: asyncpg.Connection) -> None:
    """Skip asyncpg's reset round trip on release (`RESET ALL`, `UNLISTEN *`, …):
    these connections only run one read-only statement outside any transaction,
    so they carry no session state to reset."""


def key_reader(url: str, timeouts: Timeouts) -> KeyReader | None:
    """The by-key reader for a source URL, or None where the engine keeps reads."""
    parsed = make_url(url)
    if parsed.drivername == "sqlite+aiosqlite" and parsed.database:
        return SqliteKeyReader(Path(parsed.database), timeouts)
    if parsed.drivername == "postgresql+asyncpg":
        return PgKeyReader(url, timeouts)
    return None

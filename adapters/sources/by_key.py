"""Reads of one record by key on SQLite and PostgreSQL sources, without SQLAlchemy.

A governed read fetches its subject twice by key (the facts the policy needs,
then the released columns). Through SQLAlchemy's async engine each fetch costs
a pool checkout, a transaction and result handling around a lookup of a few
microseconds, and on PostgreSQL a pre-ping and BEGIN/ROLLBACK round trips. These
readers run the statement SQLAlchemy compiled for the source's dialect on a
plain connection: SQLite a read-only `sqlite3` connection inline on the loop (as
the store's own readers do), PostgreSQL an asyncpg pool. Both keep the source's
bounds (`adapters.sources.engines.Timeouts`): SQLite's progress handler aborts a
statement past `statement_s`; on PostgreSQL the whole read, the wait for a
pooled connection included, ends by `connect_s + statement_s`, and the server's
`statement_timeout` bounds the statement there too. MySQL and MariaDB sources
keep the engine.

Errors are the drivers' own; `SqlDataSource` turns them into
`DataSourceUnavailable`, which names the source and never its URL.
"""

import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import asyncpg
from sqlalchemy.engine import make_url

from adapters.sources.engines import Timeouts
from adapters.sql.engine import PG_POOL
from adapters.sql.lean_pool import LeanPool

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
    """By-key reads on one PostgreSQL source through a lean pool of its own.

    The whole read (a free connection, or a new one, then the statement) is
    bounded by the source's deadline, `connect_s + statement_s`, with no task of
    its own: a read cut off closes its connection at once (see
    `adapters.sql.lean_pool`), so nothing is left to finish in the background.
    """

    def __init__(self, url: str, timeouts: Timeouts) -> None:
        self._deadline_s = timeouts.deadline_s
        self._pool = LeanPool(
            make_url(url)
            .set(drivername="postgresql")
            .render_as_string(hide_password=False),
            size=PG_POOL,
            connect_s=timeouts.connect_s,
            wait_s=timeouts.deadline_s,
            server_settings={
                "statement_timeout": str(round(timeouts.statement_s * 1000))
            },
        )

    async def rows(self, sql: str, subject_id: str) -> Sequence[Sequence[Any]]:
        """Run `sql` (`$1` style) on a pooled connection, within the deadline."""
        return await self._pool.fetch(sql, subject_id, within=self._deadline_s)

    async def close(self) -> None:
        """Close the pool's connections."""
        await self._pool.close()


def key_reader(url: str, timeouts: Timeouts) -> KeyReader | None:
    """The by-key reader for a source URL, or None where the engine keeps reads."""
    parsed = make_url(url)
    if parsed.drivername == "sqlite+aiosqlite" and parsed.database:
        return SqliteKeyReader(Path(parsed.database), timeouts)
    if parsed.drivername == "postgresql+asyncpg":
        return PgKeyReader(url, timeouts)
    return None

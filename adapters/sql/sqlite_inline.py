"""SQLite for SQLAlchemy's async engine, executed inline on the event loop.

aiosqlite runs every statement on a worker thread and hands the result back
through the event loop: on this machine that hop costs more than the query
(PERFORMANCE.md: sqlite3 on the loop ~2.5-3k reads/s, aiosqlite ~1.6k, and
worse under concurrency as threads contend for the GIL). SQLite reads by key
take microseconds and a group commit with fsync well under a millisecond, so
running them inline blocks the loop for less time than the hop costs.

`InlineConnection` keeps aiosqlite's interface (which SQLAlchemy's
`sqlite+aiosqlite` dialect drives) but runs each call on the calling thread.
PostgreSQL keeps its real async driver (asyncpg).
"""

import sqlite3
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import aiosqlite


class InlineConnection(aiosqlite.Connection):
    """An aiosqlite connection whose calls run on the caller's thread."""

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if self._connection is None:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)

    async def _connect(self) -> "InlineConnection":
        if self._connection is None:
            self._connection = self._connector()
        return self

    def __await__(self) -> Generator[Any, None, "InlineConnection"]:
        return self._connect().__await__()

    def stop(self) -> None:
        """Close the underlying connection; there is no worker thread to stop."""
        self._running = False
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def close(self) -> None:
        """Close the connection."""
        self.stop()

    def __del__(self) -> None:
        self.stop()


def inline_connect(
    database: str | Path, *, iter_chunk_size: int = 64, **kwargs: Any
) -> InlineConnection:
    """Drop-in for `aiosqlite.connect` used as SQLAlchemy's `async_creator_fn`."""
    path = database.decode() if isinstance(database, bytes) else str(database)
    kwargs["check_same_thread"] = False

    def connector() -> sqlite3.Connection:
        connection: sqlite3.Connection = sqlite3.connect(path, **kwargs)
        return connection

    return InlineConnection(connector, iter_chunk_size)

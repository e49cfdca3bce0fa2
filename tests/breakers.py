"""Breaking a governance store from outside, while a proxy uses it.

Each breaker is a context manager over the store's URL: the fault holds inside
the block and is undone when it ends. Used by the store fault tests and by the
graceful-shutdown tests (a locked audit table keeps reads in flight).

- `pg_table_locked`: another session holds a table in ACCESS EXCLUSIVE mode
  (requests wait for the store's `lock_timeout`, then fail);
- `sqlite_write_locked`: another connection holds SQLite's write lock
  (writes wait for the busy timeout; WAL readers go on);
- `sqlite_callers_missing`: the caller table is gone (a damaged store);
- `terminate_backends`: every other session of the database is terminated.
"""

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Coroutine, Iterator
from contextlib import AbstractContextManager, closing, contextmanager
from typing import Any, TypeVar

import asyncpg
from sqlalchemy.engine import make_url

T = TypeVar("T")
Fault = Callable[[str], AbstractContextManager[None]]
TERMINATE_OTHERS = (
    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
)


class PgSession:
    """A PostgreSQL session on a thread of its own, so it holds locks while requests run."""

    def __init__(self, url: str) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        dsn = make_url(url).set(drivername="postgresql").render_as_string(False)
        self._conn: asyncpg.Connection = self._call(asyncpg.connect(dsn))

    def _call(self, work: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(timeout=30)

    def execute(self, sql: str) -> None:
        """Run `sql` (one or more statements, no parameters) in this session."""
        self._call(self._conn.execute(sql))

    def value(self, sql: str) -> Any:
        """The first column of the first row of `sql`."""
        return self._call(self._conn.fetchval(sql))

    def close(self) -> None:
        """Close the session and stop its thread."""
        self._call(self._conn.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()


@contextmanager
def pg_table_locked(url: str, table: str) -> Iterator[None]:
    """Another session holds `table` in ACCESS EXCLUSIVE mode: no read, no write."""
    session = PgSession(url)
    try:
        session.execute(f"BEGIN; LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        yield
        session.execute("ROLLBACK")
    finally:
        session.close()


@contextmanager
def sqlite_write_locked(url: str) -> Iterator[None]:
    """Another connection holds the store's write lock (WAL: reads go on)."""
    with closing(
        sqlite3.connect(str(make_url(url).database), isolation_level=None)
    ) as db:
        db.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            db.execute("ROLLBACK")


@contextmanager
def sqlite_callers_missing(url: str) -> Iterator[None]:
    """The caller table is not where the store expects it (a damaged store)."""
    with closing(
        sqlite3.connect(str(make_url(url).database), isolation_level=None)
    ) as db:
        db.execute("ALTER TABLE callers RENAME TO callers_away")
        try:
            yield
        finally:
            db.execute("ALTER TABLE callers_away RENAME TO callers")


AUDIT_UNWRITABLE: dict[str, Fault] = {
    "sqlite": sqlite_write_locked,
    "postgresql": lambda url: pg_table_locked(url, "audit_events"),
}
CALLERS_UNREADABLE: dict[str, Fault] = {
    "sqlite": sqlite_callers_missing,
    "postgresql": lambda url: pg_table_locked(url, "callers"),
}


def terminate_backends(url: str) -> int:
    """Terminate every other session of the database at `url`; return how many."""
    session = PgSession(url)
    try:
        return int(session.value(TERMINATE_OTHERS))
    finally:
        session.close()

"""Engines for data sources, one per catalog URL, with every wait bounded.

A governed read must fail fast when its source is down or slow, and must not
leave work piling up behind it, on the proxy or on the server.
`create_source_engine(url, timeouts)` bounds, per driver:

- `sqlite+aiosqlite:///file` (inline sqlite3): a progress handler aborts a
  statement past its bound;
- `postgresql+asyncpg://`: asyncpg's connect `timeout` (TCP and start-up) and
  the server's `statement_timeout`;
- `mysql+aiomysql://` or `mariadb+aiomysql://`: aiomysql's `connect_timeout`
  (TCP) and the server's `max_statement_time` (MariaDB) or
  `max_execution_time` (MySQL).

MySQL and MariaDB connections speak `utf8mb4` (aiomysql's default), so
four-byte characters (𠮷, emoji) survive; a URL must not ask for
`charset=utf8`. `SqlDataSource` adds a deadline of both bounds around each
read, which also covers a server that accepts the connection and then says
nothing, and the wait for a pooled connection.

Server pools keep `PG_POOL` connections open, as the store's do: with
SQLAlchemy's default of 5, concurrent audience queries opened and closed a
connection (a TLS probe, a start-up, a backend) for each scan past the fifth.
"""

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.util import await_

from adapters.sql.engine import PG_POOL, create_engine, ping_when_idle
from governance.errors import ConfigurationError

DRIVERS = (
    "sqlite+aiosqlite",
    "postgresql+asyncpg",
    "mysql+aiomysql",
    "mariadb+aiomysql",
)
"""The URL schemes a source may use."""

_PROGRESS_STEPS = 1000  # SQLite VM steps between deadline checks: microseconds apart
_MYSQL_RECYCLE_S = 3600  # below the servers' default 8 h wait_timeout


@dataclass(frozen=True)
class Timeouts:
    """How long a source may take to connect, and to run one statement."""

    connect_s: float = 2.0
    statement_s: float = 5.0

    @property
    def deadline_s(self) -> float:
        """The most a whole read may take: a connection, then its statement."""
        return self.connect_s + self.statement_s


DEFAULT_TIMEOUTS = Timeouts()


def create_source_engine(url: str, timeouts: Timeouts) -> AsyncEngine:
    """An engine for the source at `url` whose connects and statements are bounded.

    Raises:
        ConfigurationError: The URL's driver is not one of `DRIVERS`.
    """
    driver = make_url(url).drivername
    if driver == "sqlite+aiosqlite":
        engine = create_engine(url)
        event.listen(engine.sync_engine, "connect", _sqlite_bound)
        event.listen(engine.sync_engine, "checkout", _sqlite_deadline(timeouts))
        return engine
    if driver == "postgresql+asyncpg":
        settings = {"statement_timeout": str(round(timeouts.statement_s * 1000))}
        return ping_when_idle(
            create_async_engine(
                url,
                pool_size=PG_POOL,
                max_overflow=PG_POOL,
                connect_args={
                    "timeout": timeouts.connect_s,
                    "server_settings": settings,
                },
                hide_parameters=True,
            )
        )
    if driver in ("mysql+aiomysql", "mariadb+aiomysql"):
        engine = create_async_engine(
            url,
            pool_size=PG_POOL,
            max_overflow=PG_POOL,
            pool_recycle=_MYSQL_RECYCLE_S,
            connect_args={"connect_timeout": timeouts.connect_s},
            hide_parameters=True,
        )
        event.listen(engine.sync_engine, "connect", _mysql_bound(timeouts))
        return ping_when_idle(engine)
    raise ConfigurationError(
        f"source driver '{driver}' is not supported; use one of {', '.join(DRIVERS)}"
    )


def _sqlite_bound(dbapi_conn: Any, record: Any) -> None:
    """Abort a statement once the deadline of its connection's read has passed."""
    deadline = record.info["deadline"] = [float("inf")]
    await_(
        dbapi_conn.driver_connection.set_progress_handler(
            lambda: time.monotonic() > deadline[0], _PROGRESS_STEPS
        )
    )


def _sqlite_deadline(timeouts: Timeouts) -> Any:
    """Give each read (one checkout of a connection) `statement_s` from now."""

    def stamp(_dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        record.info["deadline"][0] = time.monotonic() + timeouts.statement_s

    return stamp


def _mysql_bound(timeouts: Timeouts) -> Any:
    """Set the server's own statement limit on each new connection."""

    def bound(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        if "mariadb" in dbapi_conn.driver_connection.get_server_info().lower():
            cursor.execute(
                "SET SESSION max_statement_time = %s", (timeouts.statement_s,)
            )
        else:
            ms = round(timeouts.statement_s * 1000)
            cursor.execute("SET SESSION max_execution_time = %s", (ms,))
        cursor.close()

    return bound

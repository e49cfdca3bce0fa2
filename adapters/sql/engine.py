"""Async SQLAlchemy engines for the governance store and SQL sources.

SQLite (`sqlite+aiosqlite://`) runs inline on the event loop with durable
pragmas: WAL with a full fsync on every commit, and a page cache of up to
32 MiB per connection (the 2 MiB default thrashes on the store's random-keyed
indexes: a 100,000-row consent import commits about 10% faster). A write waits
for another process's write lock for sqlite3's busy timeout: 5 s, or the URL's
`?timeout=<seconds>`; then it fails, and the proxy answers 503.
`blocking_twin()` opens the same file, with the same pragmas, for work that
must not hold the event loop while it waits for the disk (the audit writer's
commits, which it runs on a thread of their own).

PostgreSQL (`postgresql+asyncpg://`) uses asyncpg, and every session starts
with `PG_SESSION`: commits wait for the WAL flush whatever the server's or the
database's default (`synchronous_commit`, set by the client, outranks both),
and a statement waits at most `lock_timeout` for a lock and runs at most
`statement_timeout`, so a locked or stalled store turns requests into 503s
instead of piling them up. Its pool keeps `PG_POOL` connections open (and as
many more for bursts); a request waits at most `PG_POOL_WAIT_S` for one of
them, and a new connection at most `PG_CONNECT_S` for the server, and then
fails (503) rather than queue behind a store that is slow or gone.
The server's own bounds need a server that answers: one that stops (its
process stopped, a network path that drops every packet) would leave a
statement waiting forever, and every request behind it. asyncpg's
`command_timeout` (`PG_COMMAND_S`, a little above `statement_timeout`, so the
server's bound answers first whenever it can) gives up on the client side: the
statement raises `TimeoutError`, which the proxy answers with 503
(`governance.trail.audited`, `audit.writer`), and the pool discards the
connection when its reset fails. Only a migration runs without it
(`governance.store`), as it runs without the server's bounds.

Pooled connections to a server (PostgreSQL, MySQL) are pinged before use only
after `IDLE_PING_S` idle, not on every checkout as SQLAlchemy's `pool_pre_ping`
does: on PostgreSQL that ping is three round trips (BEGIN, an empty query,
ROLLBACK), and it was half of each audit group commit under load. A connection
in steady use that the server dropped meanwhile (a restart) fails its next
statement instead, that request gets 503 (fail closed), and SQLAlchemy then
replaces every pooled connection opened before the failure. One the driver
already saw closed while it sat in the pool is replaced without a round trip.
"""

from functools import partial
from time import monotonic
from typing import Any

import sqlalchemy
from sqlalchemy import Dialect, event
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from adapters.sql.sqlite_inline import inline_connect

_SQLITE_PRAGMAS = (
    "journal_mode=WAL",
    "synchronous=FULL",
    "cache_size=-32768",
)
# Connections kept open per engine. Requests check one out briefly, many at a
# time; past the pool each is opened for one request and closed (a backend
# process forked on the server): with SQLAlchemy's default of 5, 16 concurrent
# governed reads ran 30% slower with the durable audit than without it.
PG_POOL = 20
# The most a request waits for a pooled connection, and for a new connection to
# the server: past these the store is slow or gone, and waiting longer would only
# pile requests up (SQLAlchemy's and asyncpg's defaults are 30 and 60 s).
PG_POOL_WAIT_S = 2.0
PG_CONNECT_S = 5.0
PG_SESSION = {
    "synchronous_commit": "on",
    "lock_timeout": "2s",
    "statement_timeout": "30s",
}
# The client's bound on any one statement (or COMMIT) of a store session: past
# it the server is taken for gone, whatever it is doing.
PG_COMMAND_S = 35.0
IDLE_PING_S = 1.0
_IDLE_SINCE = "govproxy_idle_since"


STORE_FAULTS: tuple[type[Exception], ...] = (
    OperationalError,  # the server refused or ended the session, a timeout fired
    InterfaceError,  # the driver's connection is unusable
    PoolTimeout,  # no pooled connection came free within `PG_POOL_WAIT_S`
    TimeoutError,  # no answer within `PG_COMMAND_S`, or no connection in `PG_CONNECT_S`
    ConnectionError,  # the server's port refused or reset the connection
)
"""What a store (or an engine of this module) raises when it cannot be used at all,
rather than for one statement: the request may be retried once it is back."""


def create_engine(url: str, *, bounded: bool = True) -> AsyncEngine:
    """Create an async engine for `url`.

    Every engine of the proxy hides bound parameters from its errors: they are
    often subject ids or other personal values, and an error's text travels.
    On PostgreSQL, `bounded=False` drops the client's bound on each statement
    (`PG_COMMAND_S`), for a migration that may rightly run for minutes.
    """
    if url.startswith("sqlite+aiosqlite:"):
        engine = create_async_engine(
            url,
            connect_args={"async_creator_fn": inline_connect},
            hide_parameters=True,
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    if url.startswith("postgresql+asyncpg:"):
        engine = create_async_engine(
            url,
            pool_size=PG_POOL,
            max_overflow=PG_POOL,
            pool_timeout=PG_POOL_WAIT_S,
            connect_args={
                "server_settings": PG_SESSION,
                "timeout": PG_CONNECT_S,
                "command_timeout": PG_COMMAND_S if bounded else None,
            },
            hide_parameters=True,
        )
    else:
        engine = create_async_engine(url, hide_parameters=True)
    return ping_when_idle(engine)


def ping_when_idle(engine: AsyncEngine) -> AsyncEngine:
    """Make `engine`'s pool ping a connection before use once it idled `IDLE_PING_S`."""
    event.listen(engine.sync_engine, "checkin", _idle_from_now)
    event.listen(engine.sync_engine, "checkout", partial(_ping_if_idle, engine.dialect))
    return engine


def _idle_from_now(_dbapi_conn: Any, record: Any) -> None:
    record.info[_IDLE_SINCE] = monotonic()


def _ping_if_idle(dialect: Dialect, dbapi_conn: Any, record: Any, _proxy: Any) -> None:
    """Ping a connection idle past `IDLE_PING_S`; the pool replaces one that fails.

    One the driver already saw closed (the server ended the session while it
    sat in the pool) is replaced without a round trip.
    """
    if _seen_closed(dbapi_conn.driver_connection):
        raise DisconnectionError("the server closed a pooled connection")
    since = record.info.get(_IDLE_SINCE)
    if since is None or monotonic() - since < IDLE_PING_S:
        return
    try:
        dialect.do_ping(dbapi_conn)
    except Exception as exc:  # whatever failed, the connection is unusable
        raise DisconnectionError("a pooled connection no longer answers") from exc


def _seen_closed(driver: Any) -> bool:
    """Whether the driver already knows its connection is closed.

    asyncpg says so with `is_closed()`, aiomysql with `closed`.
    """
    is_closed = getattr(driver, "is_closed", None)
    if callable(is_closed):
        return bool(is_closed())
    return bool(getattr(driver, "closed", False))


def blocking_twin(engine: AsyncEngine) -> sqlalchemy.Engine | None:
    """A blocking engine on the same SQLite file as `engine`, or None if it is not one.

    Its connections may be used from any one thread at a time.
    """
    url = engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    twin = sqlalchemy.create_engine(
        url.set(drivername="sqlite"),
        connect_args={"check_same_thread": False},
        hide_parameters=True,
    )
    event.listen(twin, "connect", _sqlite_pragmas)
    return twin


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    for pragma in _SQLITE_PRAGMAS:
        cur.execute(f"PRAGMA {pragma}")
    cur.close()

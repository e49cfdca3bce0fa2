"""A minimal asyncpg pool for one read-only statement at a time, on the request path.

Every governed read makes four lookups by key on PostgreSQL (the caller's key,
the subject's consent, the facts the policy needs, the released columns).
`asyncpg.Pool` wraps each in tasks: `acquire(timeout=)` runs `wait_for`, and
`release()` runs `shield`. With the task that bounded each source read, that
made eight tasks per read, and asyncio a sixth of the proxy's CPU. These
lookups run one prepared statement outside any transaction and keep no session
state, so a connection needs no reset and a pool needs very little:

- a free connection is taken without yielding (last in, first out);
- past `size` connections a read waits for one to come back, at most `wait_s`;
  a new connection must be up within `connect_s`;
- the statement runs under asyncpg's own timer (no task) until the read's
  deadline, and under the server's `statement_timeout`;
- a read that times out or is cancelled never hands its connection back: the
  server is asked to cancel the statement and the session is closed in the
  background (its slot stays taken until then, so a slow server cannot gather
  sessions); a lost session is dropped at once with the idle ones, which were
  most likely lost with it (a restarted server), and a read that found its
  pooled session lost runs once more on a new one. A statement the server
  refused leaves its session sound and reused.

Errors are asyncpg's (`PostgresError`, `InterfaceError`), `OSError` and
`TimeoutError`; callers turn them into their own 503s.
"""

import asyncio
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

import asyncpg
from asyncpg import exceptions as pg

# The session is gone (and the server may have restarted): a connection error,
# or the server ending it (terminated, shutting down, starting up), not a
# statement it cancelled (57014, a subclass of the same class 57).
_ENDED = (
    asyncpg.PostgresConnectionError,
    pg.AdminShutdownError,
    pg.CrashShutdownError,
    pg.CannotConnectNowError,
    asyncpg.InterfaceError,
    OSError,
)


class LeanPool:
    """Up to `size` connections to one PostgreSQL database, for single reads."""

    def __init__(
        self,
        dsn: str,
        *,
        size: int,
        connect_s: float,
        wait_s: float,
        server_settings: Mapping[str, str],
    ) -> None:
        self._dsn = dsn
        self._size = size
        self._connect_s = connect_s
        self._wait_s = wait_s
        self._settings = dict(server_settings)
        self._idle: list[asyncpg.Connection] = []
        self._count = 0  # idle, in use, and being opened
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._retiring: set[asyncio.Task[None]] = set()
        self._closed = False

    async def fetch(self, sql: str, *args: Any, within: float) -> list[asyncpg.Record]:
        """The rows `sql` selects, all within `within` seconds.

        A pooled session found dead (the server ended it since its last use and
        asyncpg had not yet seen the socket close) is dropped with the idle ones
        and the read runs once more on a new session: these are single reads, so
        running one again is safe, and a restarted server costs no failed read.

        Raises:
            TimeoutError: No connection, or no answer, within the bounds.
            asyncpg.PostgresError, asyncpg.InterfaceError, OSError: The server
                refused the statement or the connection failed.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        pooled = self._take()
        conn = pooled or await self._acquire(loop, deadline)
        try:
            return await self._run(conn, sql, args, loop.time, deadline)
        except _ENDED as exc:
            if pooled is None or isinstance(exc, TimeoutError):
                raise
        conn = await self._acquire(loop, deadline)
        return await self._run(conn, sql, args, loop.time, deadline)

    async def _run(
        self,
        conn: asyncpg.Connection,
        sql: str,
        args: tuple[Any, ...],
        clock: Callable[[], float],
        deadline: float,
    ) -> list[asyncpg.Record]:
        try:
            rows: list[asyncpg.Record] = await conn.fetch(
                sql, *args, timeout=max(deadline - clock(), 0.001)
            )
        except pg.InternalClientError:
            # asyncpg's protocol state broke (seen after a terminated session):
            # the session is unusable, and callers expect asyncpg's public errors
            self._discard(conn, lost=False)
            raise asyncpg.InterfaceError("the session broke mid-statement") from None
        except BaseException as exc:
            if isinstance(
                exc, TimeoutError
            ):  # an OSError, but the server is still at it
                self._retire(conn)
            elif isinstance(exc, _ENDED):  # the session is gone, and maybe the others
                self._discard(conn, lost=True)
            elif isinstance(exc, asyncpg.PostgresError):
                self._give_back(conn)  # the server refused the statement: still sound
            else:  # cancelled mid-statement, or anything unforeseen
                self._retire(conn)
            raise
        self._give_back(conn)
        return rows

    def _take(self) -> asyncpg.Connection | None:
        while self._idle:
            conn = self._idle.pop()
            if not conn.is_closed():
                return conn
            self._discard(conn, lost=False)
        return None

    async def _acquire(
        self, loop: asyncio.AbstractEventLoop, deadline: float
    ) -> asyncpg.Connection:
        wait_until = min(deadline, loop.time() + self._wait_s)
        while True:
            if self._closed:
                raise asyncpg.InterfaceError("the pool is closed")
            conn = self._take()
            if conn is not None:
                return conn
            if self._count < self._size:
                return await self._connect(loop, deadline)
            remaining = wait_until - loop.time()
            if remaining <= 0:
                raise TimeoutError("no pooled connection came free in time")
            woken: asyncio.Future[None] = loop.create_future()
            self._waiters.append(woken)
            try:
                await asyncio.wait_for(woken, remaining)
            except BaseException:
                if woken.done() and not woken.cancelled():
                    self._wake()  # pass on the turn this waiter will not take
                raise
            finally:
                if woken in self._waiters:
                    self._waiters.remove(woken)

    async def _connect(
        self, loop: asyncio.AbstractEventLoop, deadline: float
    ) -> asyncpg.Connection:
        self._count += 1
        try:
            return await asyncpg.connect(
                self._dsn,
                timeout=max(min(self._connect_s, deadline - loop.time()), 0.001),
                server_settings=self._settings,
            )
        except BaseException:
            self._count -= 1
            self._wake()
            raise

    def _give_back(self, conn: asyncpg.Connection) -> None:
        if self._closed or conn.is_closed():
            self._discard(conn, lost=False)
            return
        self._idle.append(conn)
        self._wake()

    def _discard(self, conn: asyncpg.Connection, *, lost: bool) -> None:
        conn.terminate()
        self._count -= 1
        if lost:
            while self._idle:
                self._idle.pop().terminate()
                self._count -= 1
        self._wake()

    def _retire(self, conn: asyncpg.Connection) -> None:
        """Close a connection whose statement was cut off, off the request's time.

        asyncpg has asked the server to cancel the statement; closing waits for
        that (within `connect_s`) so nothing keeps running there, then ends the
        session. Its slot stays taken until then: cut-off reads cannot pile up
        sessions on a slow server.
        """
        task = asyncio.get_running_loop().create_task(self._close_one(conn))
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    async def _close_one(self, conn: asyncpg.Connection) -> None:
        try:
            await conn.close(timeout=self._connect_s)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError):
            conn.terminate()
        finally:
            self._count -= 1
            self._wake()

    def _wake(self) -> None:
        while self._waiters:
            woken = self._waiters.popleft()
            if not woken.done():
                woken.set_result(None)
                return

    async def close(self) -> None:
        """Close every connection: idle ones now, those in use when they come back."""
        self._closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            self._retire(conn)
        for woken in self._waiters:
            if not woken.done():
                woken.set_result(None)
        await asyncio.gather(*self._retiring)

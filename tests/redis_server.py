"""Redis for tests: reach the server, a key prefix per test, and a relay a test can cut.

- `GOV_TEST_REDIS_URL`: the Redis to use (default `redis://127.0.0.1:6379/0`). It
  is shared with other runs and other users, so tests never stop it, flush it or
  touch a key outside their own random prefix.
- `GOV_REQUIRE_SERVICES=1`: an unreachable server fails the test instead of
  skipping it (as for PostgreSQL, `tests/pg.py`).

`Relay` stands between the proxy and Redis, on a thread of its own, so a test
can make Redis look down (connections reset) or silent (nothing answered)
and then bring it back, while the real server keeps running for everyone else.
"""

import asyncio
import contextlib
import functools
import os
import threading
import uuid
from collections.abc import Coroutine, Iterator
from typing import Any, Literal, TypeVar

import pytest
import redis
from pg import REQUIRE_SERVICES

REDIS_URL = os.environ.get("GOV_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
Mode = Literal["up", "down", "silent"]
T = TypeVar("T")


@functools.cache
def unreachable_reason() -> str | None:
    """Why Redis cannot be used, or None when it answers; probed once per run."""
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        return f"Redis unreachable ({type(exc).__name__})"
    finally:
        client.close()
    return None


def require_redis() -> None:
    """Skip without the server; fail instead when GOV_REQUIRE_SERVICES=1."""
    reason = unreachable_reason()
    if reason is None:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason}; GOV_REQUIRE_SERVICES=1 makes this a failure")
    pytest.skip(f"{reason}; set GOV_TEST_REDIS_URL or start the server")


@contextlib.contextmanager
def fresh_prefix() -> Iterator[str]:
    """A key prefix no other test uses; its keys are deleted afterwards."""
    require_redis()
    prefix = f"govtest:{uuid.uuid4().hex[:12]}:"
    try:
        yield prefix
    finally:
        client = redis.Redis.from_url(REDIS_URL)
        try:
            keys = list(client.scan_iter(match=prefix + "*"))
            if keys:
                client.delete(*keys)
        finally:
            client.close()


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A fresh key prefix on the test Redis for one test."""
    with fresh_prefix() as prefix:
        yield prefix


def keys_under(prefix: str) -> dict[str, int]:
    """Every key under `prefix` with its time to live in seconds."""
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        return {k: int(client.ttl(k)) for k in client.scan_iter(match=prefix + "*")}
    finally:
        client.close()


class Relay:
    """A TCP relay to the test Redis: `up` forwards, `down` resets, `silent` swallows.

    `down` resets every connection and each new one (Redis refusing); `silent`
    keeps connections open but answers nothing (Redis hanging): the client's
    timeout has to notice.
    """

    def __init__(self) -> None:
        require_redis()
        self.mode: Mode = "up"
        self._target = redis.connection.parse_url(REDIS_URL)
        self._open: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._server = self._call(asyncio.start_server(self._accept, "127.0.0.1", 0))
        self.port = int(self._server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        """A Redis URL that reaches the test Redis through this relay."""
        return f"redis://127.0.0.1:{self.port}/{self._target.get('db', 0)}"

    def set(self, mode: Mode) -> None:
        """Switch mode; leaving `up` drops every relayed connection."""
        self._call(self._switch(mode))

    def close(self) -> None:
        """Stop listening, drop every connection and stop the relay's thread."""
        self._server.close()
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def _call(self, work: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(timeout=10)

    async def _switch(self, mode: Mode) -> None:
        self.mode = mode
        if mode == "down":
            for writer in list(self._open):
                writer.transport.abort()

    async def _shutdown(self) -> None:
        await self._switch("down")
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)
        await asyncio.sleep(0.01)  # let the aborted transports finish closing

    async def _accept(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self._open.add(writer)
        try:
            if self.mode == "up":
                up_reader, up_writer = await asyncio.open_connection(
                    self._target.get("host"), self._target.get("port", 6379)
                )
                self._open.add(up_writer)
                await asyncio.gather(
                    self._pipe(reader, up_writer), self._pipe(up_reader, writer)
                )
            elif self.mode == "silent":
                await self._pipe(reader, None)
        finally:
            writer.transport.abort()
            self._open.discard(writer)

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter | None
    ) -> None:
        """Forward while `up`; drop what arrives while `silent`; end when either side does."""
        try:
            with contextlib.suppress(OSError):
                while self.mode != "down" and (data := await reader.read(65536)):
                    if self.mode == "up" and writer is not None:
                        writer.write(data)
                        await writer.drain()
        finally:
            if writer is not None:
                writer.transport.abort()
                self._open.discard(writer)


@pytest.fixture
def relay() -> Iterator[Relay]:
    """A relay to the test Redis that the test can cut and restore."""
    found = Relay()
    try:
        yield found
    finally:
        found.close()

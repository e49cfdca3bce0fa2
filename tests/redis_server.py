"""Redis for tests: reach the server, a key prefix per test, and a relay a test can cut.

- `GOV_TEST_REDIS_URL`: the Redis to use (default `redis://127.0.0.1:6379/0`). It
  is shared with other runs and other users, so tests never stop it, flush it or
  touch a key outside their own random prefix.
- `GOV_REQUIRE_SERVICES=1`: an unreachable server fails the test instead of
  skipping it (as for PostgreSQL, `tests/pg.py`).

`RedisRelay` (a `relay.Relay`) stands between the proxy and Redis, on a thread
of its own, so a test can make Redis look down (connections dropped and
refused) or silent (nothing answered) and then bring it back, while the real
server keeps running for everyone else.
"""

import contextlib
import functools
import os
import uuid
from collections.abc import Iterator
from typing import Literal

import pytest
import redis
from pg import REQUIRE_SERVICES
from relay import Relay

REDIS_URL = os.environ.get("GOV_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
Mode = Literal["up", "down", "silent"]
SILENT_S = 3600.0  # a silent relay holds every answer this long: never, for a test


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


class RedisRelay(Relay):
    """`relay.Relay` in front of the test Redis, switched by mode: `up` forwards,
    `down` refuses (every connection dropped, none accepted), `silent` accepts
    and never answers (Redis hanging: the client's timeout has to notice)."""

    def __init__(self) -> None:
        require_redis()
        target = redis.connection.parse_url(REDIS_URL)
        self._db = target.get("db", 0)
        super().__init__((target.get("host", "127.0.0.1"), target.get("port", 6379)))

    @property
    def url(self) -> str:
        """A Redis URL that reaches the test Redis through this relay."""
        return f"redis://127.0.0.1:{self.port}/{self._db}"

    def set(self, mode: Mode) -> None:
        """Switch mode; every relayed connection is dropped on the way."""
        self.stop()
        if mode != "down":
            self.delay_s = SILENT_S if mode == "silent" else 0.0
            self.start()


@pytest.fixture
def relay() -> Iterator[RedisRelay]:
    """A relay to the test Redis that the test can cut and restore."""
    found = RedisRelay()
    try:
        yield found
    finally:
        found.close()

"""Counters in Redis, shared by every worker and instance that uses the same Redis and prefix.

One round trip per hit: a Lua script increments the key of the current window
and lets it expire two windows later. Windows are counted on Redis's clock, so
instances whose clocks drift still agree on them. Every key starts with the
configured prefix, so deployments sharing a Redis never share a counter.

A Redis that refuses, fails or does not answer within `timeout_s` is *down*:
that hit raises `CountersUnavailable`. Each hit asks Redis again, so a
refusing Redis costs a request well under a millisecond and a silent one at
most `timeout_s` (the pool of `MAX_CONNECTIONS` bounds how many wait), and the
first answer brings the counters back up: no restart needed. Nothing stays
tripped after a single slow answer, which on a busy event loop can be the
loop's delay rather than Redis's. Errors are kept as their type name only: a
Redis error can name the host.
"""

import asyncio

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from governance.errors import CountersUnavailable
from governance.ports import CountersState, Hit

MAX_CONNECTIONS = 32  # per process; a hit holds one for ~50 us

_HIT = """
local now = redis.call('TIME')
local window = tonumber(ARGV[1])
local seconds = tonumber(now[1])
local key = KEYS[1] .. ':' .. math.floor(seconds / window)
local count = redis.call('INCR', key)
if count == 1 then
    redis.call('EXPIRE', key, 2 * window)
end
return {count, tostring(window - seconds % window - tonumber(now[2]) / 1000000)}
"""


class RedisCounters:
    """Fixed-window counters in Redis; fail closed when Redis does not answer in time."""

    backend = "redis"

    def __init__(self, url: str, *, prefix: str, timeout_s: float) -> None:
        pool = BlockingConnectionPool.from_url(
            url,
            max_connections=MAX_CONNECTIONS,
            timeout=timeout_s,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
        )
        # No retries: a second try would only stretch the wait past `timeout_s`.
        self._client = Redis(connection_pool=pool, retry=Retry(NoBackoff(), 0))
        self._script = self._client.register_script(_HIT)
        self._prefix = prefix
        self._timeout_s = timeout_s
        self._up = True
        self._last_error: str | None = None

    async def hit(self, key: str, *, window_s: int) -> Hit:
        """Add one to `key` in Redis's current window and return the count so far."""
        try:
            async with asyncio.timeout(self._timeout_s):
                count, left = await self._script(
                    keys=[self._prefix + key], args=[window_s]
                )
        except (RedisError, OSError, TimeoutError) as exc:
            self._failed(exc)
            raise CountersUnavailable("the shared counters did not answer") from None
        self._up = True
        return Hit(int(count), float(left))

    async def probe(self) -> CountersState:
        """Ask Redis now (loading the script, so a first hit is one round trip)."""
        try:
            async with asyncio.timeout(self._timeout_s):
                await self._client.script_load(_HIT)
        except (RedisError, OSError, TimeoutError) as exc:
            self._failed(exc)
        else:
            self._up = True
        return self.state()

    def state(self) -> CountersState:
        """Up or down as the last hit or probe found it, and the last error's type."""
        return CountersState(self.backend, up=self._up, last_error=self._last_error)

    async def close(self) -> None:
        """Close every connection to Redis."""
        await self._client.aclose()
        await self._client.connection_pool.disconnect()

    def _failed(self, exc: BaseException) -> None:
        self._up = False
        self._last_error = type(exc).__name__

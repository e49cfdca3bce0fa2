"""The counters behind the caller budget: in process, and in the real Redis.

Both implementations keep the same contract (`governance.ports.Counters`): a
hit adds one in the current fixed window and says when that window ends. The
Redis one is shared by every client on the same prefix, isolated from other
prefixes, and fails closed (`CountersUnavailable`) when Redis refuses or hangs,
coming back by itself when Redis does. Redis faults come from `Relay`, never
from stopping the shared server.
"""

import asyncio
import time
import tracemalloc
from collections.abc import Iterator

import pytest
from redis_server import REDIS_URL, keys_under, redis_prefix, relay

from adapters.counters.memory import InProcessCounters
from adapters.counters.redis import RedisCounters
from governance.errors import CountersUnavailable
from governance.ports import Counters, CountersState, Hit

__all__ = ["redis_prefix", "relay"]  # fixtures, imported for pytest
# Tests that expect answers allow a generous timeout: a loaded machine can delay
# one by tens of milliseconds. Only the hang test uses a short one.
TIMEOUT_S = 2.0
SHORT_TIMEOUT_S = 0.05


def counting(counters: Counters, key: str, times: int, window_s: int = 60) -> list[Hit]:
    """Hit `key` `times` times in a row; the hits, in order."""

    async def run() -> list[Hit]:
        try:
            return [await counters.hit(key, window_s=window_s) for _ in range(times)]
        finally:
            await counters.close()

    return asyncio.run(run())


@pytest.fixture(params=["in-process", "redis"])
def counters(request: pytest.FixtureRequest) -> Iterator[Counters]:
    """Each implementation, the Redis one under a fresh prefix."""
    if request.param == "in-process":
        yield InProcessCounters()
        return
    prefix = request.getfixturevalue("redis_prefix")
    yield RedisCounters(REDIS_URL, prefix=prefix, timeout_s=TIMEOUT_S)


class TestContract:
    """What the budget relies on, from either implementation."""

    def test_each_hit_counts_one_more_in_the_window(self, counters):
        """Five hits on one key count 1 to 5, each naming a window end within 60 s."""
        hits = counting(counters, "budget:a", 5)

        assert [h.count for h in hits] == [1, 2, 3, 4, 5]
        assert all(0 < h.resets_in_s <= 60 for h in hits)

    def test_keys_are_counted_apart(self, counters):
        """Hits on one key do not count for another."""

        async def run() -> tuple[int, int]:
            await counters.hit("budget:a", window_s=60)
            await counters.hit("budget:a", window_s=60)
            other = await counters.hit("budget:b", window_s=60)
            again = await counters.hit("budget:a", window_s=60)
            await counters.close()
            return other.count, again.count

        assert asyncio.run(run()) == (1, 3)

    def test_the_state_is_up_with_no_error(self, counters):
        """A backend that answers reports itself up, with no error."""

        async def run() -> CountersState:
            try:
                return await counters.probe()
            finally:
                await counters.close()

        state = asyncio.run(run())

        assert (state.up, state.last_error) == (True, None)
        assert state.backend in ("in-process", "redis")


class TestInProcess:
    """Counting in one process's memory."""

    def test_a_new_window_starts_again_from_one(self):
        """When the clock passes the window's end, the count restarts at 1."""
        now = [119.5]
        counters = InProcessCounters(clock=lambda: now[0])

        first = counting(counters, "budget:a", 3)
        now[0] = 120.25
        later = counting(counters, "budget:a", 1)

        assert [h.count for h in first] == [1, 2, 3]
        assert first[-1].resets_in_s == pytest.approx(0.5)
        assert later[0].count == 1
        assert later[0].resets_in_s == pytest.approx(59.75)

    def test_memory_holds_one_window_of_keys_however_many_windows_pass(self):
        """Ten minutes of 5,000 new addresses each take about the memory of one
        (a minute's keys are forgotten once the next minute starts)."""
        now = [0.0]
        counters = InProcessCounters(clock=lambda: now[0])

        async def minute(n: int) -> int:
            now[0] = n * 60 + 1.0
            for a in range(5_000):
                await counters.hit(
                    f"unauthenticated:10.{n}.{a >> 8}.{a & 255}", window_s=60
                )
            return tracemalloc.get_traced_memory()[0]

        async def run() -> list[int]:
            return [await minute(n) for n in range(10)]

        tracemalloc.start()
        try:
            held = asyncio.run(run())
        finally:
            tracemalloc.stop()

        assert held[-1] < 1.5 * held[0]


class TestRedisShared:
    """One count across clients; prefixes keep deployments apart; keys expire."""

    def test_two_clients_on_one_prefix_share_one_count(self, redis_prefix):
        """200 concurrent hits from two clients (two processes' worth) get counts 1..200."""

        async def run() -> list[int]:
            clients = [
                RedisCounters(REDIS_URL, prefix=redis_prefix, timeout_s=1.0)
                for _ in range(2)
            ]
            try:
                hits = await asyncio.gather(
                    *(clients[n % 2].hit("budget:a", window_s=60) for n in range(200))
                )
            finally:
                for c in clients:
                    await c.close()
            return sorted(h.count for h in hits)

        assert asyncio.run(run()) == list(range(1, 201))

    def test_another_prefix_has_counts_of_its_own(self, redis_prefix):
        """The same key under two prefixes is two counters: deployments never share."""
        first = counting(
            RedisCounters(REDIS_URL, prefix=redis_prefix, timeout_s=1.0), "budget:a", 3
        )
        other = counting(
            RedisCounters(REDIS_URL, prefix=redis_prefix + "other:", timeout_s=1.0),
            "budget:a",
            1,
        )

        assert [first[-1].count, other[0].count] == [3, 1]

    def test_every_key_is_under_the_prefix_and_expires(self, redis_prefix):
        """The window's key carries the prefix and expires within two windows."""
        counting(
            RedisCounters(REDIS_URL, prefix=redis_prefix, timeout_s=1.0), "k", 1, 30
        )

        found = keys_under(redis_prefix)

        assert len(found) == 1
        assert all(
            k.startswith(redis_prefix + "k:") and 0 < t <= 60 for k, t in found.items()
        )


class TestRedisDown:
    """Redis refusing or hanging: fail closed fast, report it, recover by itself."""

    def test_when_redis_refuses_then_hits_fail_and_the_state_says_why(self, relay):
        """A reset connection raises `CountersUnavailable` and marks the counters down."""
        counters = RedisCounters(relay.url, prefix="govtest:down:", timeout_s=TIMEOUT_S)
        relay.set("down")

        async def run() -> None:
            try:
                with pytest.raises(CountersUnavailable):
                    await counters.hit("k", window_s=60)
            finally:
                await counters.close()

        asyncio.run(run())

        assert counters.state().up is False
        assert counters.state().last_error is not None

    def test_when_redis_hangs_then_a_hit_fails_within_the_timeout(self, relay):
        """A Redis that answers nothing is down after `timeout_s`, not after a socket default."""
        relay.set("silent")
        counters = RedisCounters(
            relay.url, prefix="govtest:silent:", timeout_s=SHORT_TIMEOUT_S
        )

        async def run() -> float:
            started = time.monotonic()
            try:
                with pytest.raises(CountersUnavailable):
                    await counters.hit("k", window_s=60)
                return time.monotonic() - started
            finally:
                await counters.close()

        elapsed = asyncio.run(run())

        assert elapsed < SHORT_TIMEOUT_S + 0.45
        assert counters.state().last_error == "TimeoutError"

    def test_when_redis_returns_the_next_hit_counts_again(self, relay, redis_prefix):
        """No restart and no cool-down: the first hit after Redis is back is counted."""
        counters = RedisCounters(relay.url, prefix=redis_prefix, timeout_s=TIMEOUT_S)

        async def run() -> tuple[int, bool]:
            try:
                relay.set("down")
                with pytest.raises(CountersUnavailable):
                    await counters.hit("k", window_s=60)
                relay.set("up")
                hit = await counters.hit("k", window_s=60)
                return hit.count, counters.state().up
            finally:
                await counters.close()

        assert asyncio.run(run()) == (1, True)

    def test_a_probe_sees_redis_return_before_any_hit(self, relay, redis_prefix):
        """`probe` (what /healthz calls) finds Redis back and marks the counters up."""
        counters = RedisCounters(relay.url, prefix=redis_prefix, timeout_s=TIMEOUT_S)

        async def run() -> tuple[bool, bool]:
            try:
                relay.set("down")
                down = await counters.probe()
                relay.set("up")
                back = await counters.probe()
                return down.up, back.up
            finally:
                await counters.close()

        assert asyncio.run(run()) == (False, True)

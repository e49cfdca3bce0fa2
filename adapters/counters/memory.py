"""Counters in this process's memory: exact for one process, shared with no other.

The embedded default. Several workers or instances each count on their own, so
a budget of N per window admits up to N per process; `RedisCounters` shares one
count between them. Windows are aligned to the wall clock, as Redis's are.
"""

import time
from collections.abc import Callable

from governance.ports import CountersState, Hit


class InProcessCounters:
    """Fixed-window counters in a dict; only the current window of each key is kept."""

    backend = "in-process"

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._windows: dict[str, tuple[int, int]] = {}  # key -> (window number, count)

    async def hit(self, key: str, *, window_s: int) -> Hit:
        """Add one to `key` in the current window and return the count so far."""
        now = self._clock()
        window = int(now // window_s)
        seen, count = self._windows.get(key, (window, 0))
        count = count + 1 if seen == window else 1
        self._windows[key] = (window, count)
        return Hit(count, window_s - now % window_s)

    async def probe(self) -> CountersState:
        """Always up: there is nothing to reach."""
        return self.state()

    def state(self) -> CountersState:
        """Always up."""
        return CountersState(self.backend, up=True, last_error=None)

    async def close(self) -> None:
        """Nothing to release."""

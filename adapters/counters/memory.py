"""Counters in this process's memory: exact for one process, shared with no other.

The embedded default. Several workers or instances each count on their own, so
a budget of N per window admits up to N per process; `RedisCounters` shares one
count between them. Windows are aligned to the wall clock, as Redis's are.

Only the current window is kept: the first hit of a new window drops every
count of the last one, as Redis's keys expire. Keys come from clients (the
attempt budget counts one per address), so counts that outlived their window
would grow without bound; this way memory holds one window's keys at most.
"""

import time
from collections.abc import Callable

from governance.ports import CountersState, Hit


class InProcessCounters:
    """Fixed-window counters in dicts, one per window length; only the current
    window of each length is kept."""

    backend = "in-process"

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        # window length -> (current window number, key -> count in it)
        self._windows: dict[int, tuple[int, dict[str, int]]] = {}

    async def hit(self, key: str, *, window_s: int) -> Hit:
        """Add one to `key` in the current window and return the count so far."""
        now = self._clock()
        window = int(now // window_s)
        seen, counts = self._windows.get(window_s, (None, {}))
        if seen != window:  # a new window: the last one's counts are dropped
            counts = {}
            self._windows[window_s] = (window, counts)
        count = counts[key] = counts.get(key, 0) + 1
        return Hit(count, window_s - now % window_s)

    async def probe(self) -> CountersState:
        """Always up: there is nothing to reach."""
        return self.state()

    def state(self) -> CountersState:
        """Always up."""
        return CountersState(self.backend, up=True, last_error=None)

    async def close(self) -> None:
        """Nothing to release."""

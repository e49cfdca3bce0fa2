"""The policy in force, swappable while requests run: `LiveDecider`.

Each bundle revision is one generation: an engine and its own decision cache (so
a decision is never served under another revision). `swap(engine)` makes a new
generation current with one reference assignment; a decision already running
finishes on the generation it started with. A request that decides more than
once (an audience query: the shape, then each subject) calls `pin()` first and
decides every time with the same generation.

A retired generation's engine is closed as soon as nothing uses it any more,
always on the event loop's thread: regorus engines may only be dropped on the
thread that made them. A pin is released when the pinned decider is garbage
(at the end of the request that held it), wherever that happens.
"""

import asyncio
import weakref
from typing import Any, Protocol

from governance.observability.metrics import REVISION
from governance.policy.decide import CachingDecider
from governance.ports import PolicyDecider
from governance.types import Decision


class ClosableDecider(PolicyDecider, Protocol):
    """A policy engine that holds resources to release when it is retired."""

    def close(self) -> None:
        """Release the engine; called once, on the event loop's thread."""
        ...


class _Generation:
    """One engine, its cache, and how many decisions or pins use it now."""

    def __init__(self, engine: ClosableDecider, cache_size: int) -> None:
        self.engine = engine
        self.decider = CachingDecider(engine, size=cache_size)
        self.users = 0
        self.retired = False


class _Pinned:
    """A decider bound to one generation for the life of one request."""

    def __init__(self, generation: _Generation) -> None:
        self._decider = generation.decider

    @property
    def revision(self) -> str:
        """The revision of the pinned generation."""
        return self._decider.revision

    async def decide(self, policy_input: dict[str, Any]) -> Decision:
        """Decide with the pinned generation."""
        return await self._decider.decide(policy_input)


class LiveDecider:
    """A `PolicyDecider` whose engine can be replaced without a restart.

    Create it on the event loop that will use it; `close()` it there at shutdown.
    """

    def __init__(self, engine: ClosableDecider, *, cache_size: int) -> None:
        self._loop = asyncio.get_running_loop()
        self._cache_size = cache_size
        self._live = _Generation(engine, cache_size)
        self._retired: list[_Generation] = []
        self._closed = False
        REVISION.labels(self.revision).set(1)

    @property
    def revision(self) -> str:
        """The revision of the bundle in force."""
        return self._live.decider.revision

    @property
    def retired(self) -> int:
        """How many replaced engines are still open because something uses them."""
        return len(self._retired)

    async def decide(self, policy_input: dict[str, Any]) -> Decision:
        """Decide with the current generation, which stays open until this returns."""
        generation = self._live
        generation.users += 1
        try:
            return await generation.decider.decide(policy_input)
        finally:
            self._release(generation)

    def pin(self) -> PolicyDecider:
        """A decider bound to the current generation until it is dropped."""
        generation = self._live
        generation.users += 1
        pinned = _Pinned(generation)
        weakref.finalize(pinned, self._release_soon, generation).atexit = False
        return pinned

    def swap(self, engine: ClosableDecider) -> str:
        """Make `engine` current; return the revision it replaces."""
        old, self._live = self._live, _Generation(engine, self._cache_size)
        old.retired = True
        self._retired.append(old)
        self._close_unused()
        REVISION.labels(old.decider.revision).set(0)
        REVISION.labels(self.revision).set(1)
        return old.decider.revision

    def close(self) -> None:
        """Close every engine now (shutdown: no request is running any more)."""
        self._closed = True
        REVISION.labels(self.revision).set(0)
        for generation in (*self._retired, self._live):
            generation.engine.close()
        self._retired.clear()

    def _release(self, generation: _Generation) -> None:
        generation.users -= 1
        if generation.retired and not self._closed:
            self._close_unused()

    def _release_soon(self, generation: _Generation) -> None:
        """Release a pin from whatever thread dropped it, on the loop's thread."""
        try:
            self._loop.call_soon_threadsafe(self._release, generation)
        except RuntimeError:  # the loop has closed: `close()` already ran
            return

    def _close_unused(self) -> None:
        for generation in [g for g in self._retired if g.users == 0]:
            self._retired.remove(generation)
            generation.engine.close()


def pin(decider: PolicyDecider) -> PolicyDecider:
    """`decider.pin()` for a live decider; any other decider is its own pin."""
    return decider.pin() if isinstance(decider, LiveDecider) else decider

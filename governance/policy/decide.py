"""Decide once per distinct access shape: an LRU cache in front of the policy engine.

Policy inputs are facts (caller, purpose, field and tag classes, consent state,
minority), never personal values, so equal inputs always get equal decisions
under one bundle revision. The cache key includes the revision.
"""

from collections import OrderedDict
from time import perf_counter
from typing import Any

import orjson

from governance.observability.metrics import (
    CACHE_HITS,
    CACHE_MISSES,
    EVALUATION_SECONDS,
)
from governance.ports import PolicyDecider
from governance.types import Decision


class CachingDecider:
    """Wraps a `PolicyDecider`; remembers up to `size` decisions."""

    def __init__(self, inner: PolicyDecider, *, size: int) -> None:
        self._inner = inner
        self._size = size
        self._cache: OrderedDict[bytes, Decision] = OrderedDict()

    @property
    def revision(self) -> str:
        """The revision of the wrapped engine's bundle."""
        return self._inner.revision

    async def decide(self, policy_input: dict[str, Any]) -> Decision:
        """Return the cached decision for this shape, or ask the engine."""
        key = self._inner.revision.encode() + orjson.dumps(
            policy_input, option=orjson.OPT_SORT_KEYS
        )
        found = self._cache.get(key)
        if found is not None:
            self._cache.move_to_end(key)
            CACHE_HITS.inc()
            return found
        CACHE_MISSES.inc()
        started = perf_counter()
        try:
            decision = await self._inner.decide(policy_input)
        finally:
            EVALUATION_SECONDS.observe(perf_counter() - started)
        if self._size:
            self._cache[key] = decision
            if len(self._cache) > self._size:
                self._cache.popitem(last=False)
        return decision

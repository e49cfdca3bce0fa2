"""The per-caller request budget: a leaked or misbehaving key pulls no faster than it (K-06).

Every request authenticated with a caller key, whatever its role, counts
against `limits.caller_requests_per_minute` in fixed one-minute windows kept by
the counters: in Redis (`redis.url`) one count is shared by every worker and
instance; in process, each process counts on its own. Over budget the request
is refused with 429 `rate_limited` and `Retry-After` (seconds to the next
window); when the counters cannot be reached it is refused with 503
`counters_unavailable` (fail closed: no budget can be checked). Either refusal
is audited like any denial, as a `caller.budget` event naming the route
template (never its values). A budget of 0 counts nothing and never asks the
counters, so nothing then depends on Redis.

A fixed window admits at most the budget per calendar minute, so up to twice
the budget can pass within one minute that straddles a window boundary.
"""

import math
from dataclasses import dataclass
from typing import Any

from audit.writer import AuditWriter
from governance.errors import CountersUnavailable, RateLimited
from governance.ports import Counters
from governance.trail import refused
from governance.types import Principal

WINDOW_S = 60


@dataclass(frozen=True)
class CallerBudget:
    """How many requests each caller may make per minute, counted by `counters`."""

    counters: Counters
    per_minute: int

    @property
    def required(self) -> bool:
        """Whether requests depend on the counters (a budget is set)."""
        return self.per_minute > 0

    async def charge(self, caller: str) -> None:
        """Count one request of `caller`; raise `RateLimited` past the budget.

        Raises:
            RateLimited: the caller spent this minute's budget.
            CountersUnavailable: the counters cannot be reached.
        """
        if not self.required:
            return
        hit = await self.counters.hit(f"budget:{caller}", window_s=WINDOW_S)
        if hit.count > self.per_minute:
            raise RateLimited(
                "the caller's request budget for this minute is spent",
                retry_after_s=max(1, math.ceil(hit.resets_in_s)),
            )

    async def status(self) -> dict[str, Any]:
        """The counters' backend and state, checked now, and whether requests need them."""
        state = await self.counters.probe()
        return {
            "backend": state.backend,
            "up": state.up,
            "last_error": state.last_error,
            "required": self.required,
        }


async def admit(
    budget: CallerBudget, audit: AuditWriter, principal: Principal, route: str
) -> None:
    """Charge `principal`'s budget; audit a refusal as a denial of `route`, then raise it."""
    try:
        await budget.charge(principal.name)
    except (RateLimited, CountersUnavailable) as exc:
        await refused(audit, "caller.budget", principal.name, route, exc)

"""The per-caller request budget: a leaked or misbehaving key pulls no faster than it (K-06).

Every request authenticated with a caller key, whatever its role, counts
against `limits.caller_requests_per_minute` in fixed one-minute windows kept by
the counters: in Redis (`redis.url`) one count is shared by every worker and
instance; in process, each process counts on its own. Over budget the request
is refused with 429 `rate_limited` and `Retry-After` (seconds to the next
window); when the counters cannot be reached it is refused with 503
`counters_unavailable` (fail closed: no budget can be checked), except a
withdrawal, which only stops processing and must never wait on the counters
(`STOPPING_ROUTES`, C-08). Either refusal
is audited like any denial, as a `caller.budget` event naming the route
template (never its values). A budget of 0 counts nothing and never asks the
counters, so nothing then depends on Redis.

A fixed window admits at most the budget per calendar minute, so up to twice
the budget can pass within one minute that straddles a window boundary.

Requests without a valid key are counted per client address instead
(`limits.unauthenticated_per_minute`, `AttemptBudget`): each is refused (401)
and audited, so a flood of them would fill the audit trail and hold up the
audit writer every governed read waits for. Past the budget such a request is
refused with 429 `rate_limited` without an event of its own; the first of them
in a window is audited once as `caller.throttled`, naming the address. Counters
that cannot be reached count nothing here: the request is refused (401) and
audited as before, since a 503 would tell its sender no more.

The address counted and audited is `client_address`'s canonical form, never
the text a client or a proxy sent: an IPv4 address, or an IPv6 client's /64
(one subscriber's usual allocation: rotating addresses within it earns no fresh
budget). Anything else, which a forwarded header can carry, shares the one
bucket `invalid`, so no free text reaches the counters' keys or the trail.
"""

import ipaddress
import math
from dataclasses import dataclass
from typing import Any

from audit.writer import AuditWriter
from governance.errors import CountersUnavailable, RateLimited
from governance.ports import Counters
from governance.trail import refused
from governance.types import Principal

WINDOW_S = 60
INVALID_ADDRESS = "invalid"
_IPV6_PREFIX = 64


def client_address(host: str | None) -> str:
    """The canonical form of a client's address, as the attempt budget counts it.

    `1.2.3.4` for IPv4 (an IPv4-mapped IPv6 address too); `2001:db8:1:2::/64`
    for IPv6, the /64 holding it (its zone index dropped, which is free text);
    `invalid` for anything that is not an address (a forwarded header's free
    text, a test client's name, no client at all).
    """
    try:
        address = ipaddress.ip_address(host or "")
    except ValueError:
        return INVALID_ADDRESS
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        network = int(address) >> (128 - _IPV6_PREFIX) << (128 - _IPV6_PREFIX)
        return str(ipaddress.IPv6Network((network, _IPV6_PREFIX)))
    return str(address)


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


@dataclass(frozen=True)
class AttemptBudget:
    """How many requests without a valid key one client address (an IPv6 client's
    /64, `client_address`) may make per minute."""

    counters: Counters
    per_minute: int


async def admit_attempt(
    budget: AttemptBudget, audit: AuditWriter, peer: str, route: str
) -> None:
    """Count a request without a valid key from `peer` (a `client_address`);
    past the budget raise `RateLimited`, auditing only the first refusal of the
    window."""
    if budget.per_minute <= 0:
        return
    try:
        hit = await budget.counters.hit(f"unauthenticated:{peer}", window_s=WINDOW_S)
    except CountersUnavailable:
        return
    if hit.count <= budget.per_minute:
        return
    error = RateLimited(
        "too many requests without a valid key from this address this minute",
        retry_after_s=max(1, math.ceil(hit.resets_in_s)),
    )
    if hit.count == budget.per_minute + 1:
        await refused(
            audit,
            "caller.throttled",
            None,
            route,
            error,
            peer=peer,
            per_minute=budget.per_minute,
        )
    raise error


# Requests that only stop processing: withdrawing must stay as easy as
# consenting (C-08), so counters that cannot be reached never hold one up. They
# are still counted, and refused past the budget, whenever the counters answer.
STOPPING_ROUTES = frozenset(
    {
        "POST /v1/subjects/{subject_id}/consents/{purpose}/withdraw",
        "POST /v1/subjects/{subject_id}/consents/withdraw-marketing",
    }
)


async def admit(
    budget: CallerBudget, audit: AuditWriter, principal: Principal, route: str
) -> None:
    """Charge `principal`'s budget; audit a refusal as a denial of `route`, then
    raise it. A withdrawal passes when the counters cannot be reached."""
    try:
        await budget.charge(principal.name)
    except CountersUnavailable as exc:
        if route not in STOPPING_ROUTES:
            await refused(audit, "caller.budget", principal.name, route, exc)
    except RateLimited as exc:
        await refused(audit, "caller.budget", principal.name, route, exc)

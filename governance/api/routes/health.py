"""Liveness, the store, the policy bundle in force, and the shared counters: no auth, no data.

`/healthz` answers 200 only when the proxy can serve: its store answers a
`SELECT 1` within `STORE_PROBE_S`, and the counters answer if requests need
them. Otherwise it answers 503 with `status: degraded` and the same document,
so a probe (the image's `HEALTHCHECK`, a load balancer) takes the instance out
while every governed request would be refused anyway. The document names each
component's state and the type of its last error, never the error's text: a
driver's message may quote the store's URL or a value.
"""

import asyncio
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from governance.api.deps import SealerDep, ServicesDep
from governance.api.routes.policy import ReloaderDep

router = APIRouter(tags=["health"])
# The probe's bound: under the image's health check timeout (2 s), and long
# enough for a pooled connection's round trip on a loaded store.
STORE_PROBE_S = 1.0
_PROBE = text("SELECT 1")


@router.get(
    "/healthz",
    responses={
        503: {"description": "The store, or counters that requests need, are down."}
    },
)
async def healthz(
    reloader: ReloaderDep, sealer: SealerDep, services: ServicesDep
) -> JSONResponse:
    """Whether the proxy can serve; which bundle decides, and why a newer one does not.

    `store`: whether the governance store answered a `SELECT 1` within
    `STORE_PROBE_S` (`up`), and if not the error's type (`error`).
    `policy.last_error` names the rejected revision and its finding codes only;
    officers see each finding at `GET /v1/policy`. `audit_checkpoint`: the
    latest signed checkpoint this process has seen, its age in seconds, and the
    last sealing failure (its error type only). `counters`: the backend of the
    caller budget (`in-process` or `redis`), whether it answers now, its last
    error type, and whether requests depend on it. `status` is `degraded` (and
    the answer 503) while the store is down, or the counters are down and
    requests depend on them (those requests are refused with 503).
    """
    store = await probe_store(services.store)
    counters = await services.budget.status()
    degraded = not store["up"] or (counters["required"] and not counters["up"])
    body = {
        "status": "degraded" if degraded else "ok",
        "store": store,
        "policy": reloader.status(),
        "audit_checkpoint": sealer.status(),
        "counters": counters,
    }
    return JSONResponse(body, status_code=503 if degraded else 200)


async def probe_store(store: AsyncEngine) -> dict[str, Any]:
    """`{"up": bool, "error": type name or None}` of one bounded `SELECT 1`.

    The answer comes after `STORE_PROBE_S` at most: a probe still waiting then is
    cancelled and left to finish its clean-up (returning its connection may
    itself wait on a silent store) without the answer waiting for it.
    """
    probe = asyncio.ensure_future(_select_one(store))
    probe.add_done_callback(_settled)
    done, _ = await asyncio.wait({probe}, timeout=STORE_PROBE_S)
    if not done:
        probe.cancel()
        return {"up": False, "error": TimeoutError.__name__}
    failure = probe.exception()
    if failure is None:
        return {"up": True, "error": None}
    if isinstance(failure, SQLAlchemyError | OSError):  # whatever failed, it is down
        return {"up": False, "error": type(failure).__name__}
    raise failure


async def _select_one(store: AsyncEngine) -> None:
    async with store.connect() as conn:
        await conn.execute(_PROBE)


def _settled(probe: "asyncio.Future[None]") -> None:
    """Take a cancelled probe's late failure, so that it is not reported unhandled."""
    if not probe.cancelled():
        probe.exception()

"""Liveness, the policy bundle in force, and the shared counters: no auth, no data."""

from typing import Any

from fastapi import APIRouter

from governance.api.deps import SealerDep, ServicesDep
from governance.api.routes.policy import ReloaderDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz(
    reloader: ReloaderDep, sealer: SealerDep, services: ServicesDep
) -> dict[str, Any]:
    """The process is up and serving; which bundle decides, and why a newer one does not.

    `policy.last_error` names the rejected revision and its finding codes only;
    officers see each finding at `GET /v1/policy`. `audit_checkpoint`: the
    latest signed checkpoint this process has seen, its age in seconds, and the
    last sealing failure (its error type only). `counters`: the backend of the
    caller budget (`in-process` or `redis`), whether it answers now, its last
    error type, and whether requests depend on it; `status` is `degraded` while
    they do and it does not (those requests are refused with 503).
    """
    counters = await services.budget.status()
    degraded = counters["required"] and not counters["up"]
    return {
        "status": "degraded" if degraded else "ok",
        "policy": reloader.status(),
        "audit_checkpoint": sealer.status(),
        "counters": counters,
    }

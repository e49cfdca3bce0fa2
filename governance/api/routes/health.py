"""Liveness, and the policy bundle in force: no auth, no data."""

from typing import Any

from fastapi import APIRouter

from governance.api.deps import SealerDep
from governance.api.routes.policy import ReloaderDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz(reloader: ReloaderDep, sealer: SealerDep) -> dict[str, Any]:
    """The process is up and serving; which bundle decides, and why a newer one does not.

    `policy.last_error` names the rejected revision and its finding codes only;
    officers see each finding at `GET /v1/policy`. `audit_checkpoint`: the
    latest signed checkpoint this process has seen, its age in seconds, and the
    last sealing failure (its error type only).
    """
    return {
        "status": "ok",
        "policy": reloader.status(),
        "audit_checkpoint": sealer.status(),
    }

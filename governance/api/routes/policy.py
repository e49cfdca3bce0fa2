"""The policy bundle in force, its reload, and the decision log.

`GET /v1/policy` (officer, admin): revision, activation, last reload and its
error with every finding. `POST /v1/policy/reload` (admin): check the bundle on
disk now and activate it if it passes. `GET /v1/policy/decisions` (officer):
the decision log, OPA-shaped entries newest first, in cursor pages; reading it
is audited (`decisions.read`).
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from audit.query import utc_instant
from governance.api.deps import ServicesDep, require
from governance.policy.decision_log import (
    DecisionFilter,
    entry_intact,
    list_decisions,
)
from governance.policy.reload import PolicyReloader
from governance.trail import Trail, audited
from governance.types import Principal, Role

router = APIRouter(prefix="/v1/policy", tags=["policy"])
MAX_PAGE = 1000
_ADMIN = require(Role.ADMIN)
_OFFICER = require(Role.OFFICER)
_OFFICER_OR_ADMIN = require(Role.OFFICER, Role.ADMIN)


async def get_reloader(request: Request) -> PolicyReloader:
    """The reloader of the app handling this request."""
    reloader: PolicyReloader = request.app.state.policy
    return reloader


ReloaderDep = Annotated[PolicyReloader, Depends(get_reloader)]


@router.get("", dependencies=[_OFFICER_OR_ADMIN])
async def policy_status(reloader: ReloaderDep) -> dict[str, Any]:
    """The bundle revision in force, when it was activated, and the last reload."""
    return reloader.status(findings=True)


@router.post("/reload")
async def reload_policy(
    reloader: ReloaderDep, principal: Principal = _ADMIN
) -> dict[str, Any]:
    """Check the bundle on disk now; activate it if it passes, else keep the old one.

    `outcome` is `activated`, `unchanged`, `rejected` (with `findings`) or
    `changing` (files were being written: try again).
    """
    result = await reloader.reload(trigger="api", caller=principal.name)
    body: dict[str, Any] = {
        "outcome": result.outcome.value,
        "revision": result.revision,
        "previous": result.previous,
    }
    if result.rejection is not None:
        body["rejected_revision"] = result.rejection.revision
        body["findings"] = [str(f) for f in result.rejection.findings]
    return body


@router.get("/decisions")
async def decisions(
    services: ServicesDep,
    principal: Principal = _OFFICER,
    caller: Annotated[str | None, Query(max_length=128)] = None,
    since: Annotated[str | None, Query(max_length=40)] = None,
    until: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    cursor: Annotated[str | None, Query(max_length=256)] = None,
) -> JSONResponse:
    """Decision log entries matching every given filter, newest first."""
    trail = Trail(kind="decisions.read", caller=principal.name)

    async def step() -> dict[str, Any]:
        selected = DecisionFilter(
            caller=caller,
            since=utc_instant(since, "since"),
            until=utc_instant(until, "until"),
        )
        page, next_cursor = await list_decisions(
            services.store, selected, limit=limit, cursor=cursor
        )
        trail.detail |= {
            "filters": {k: v is not None for k, v in vars(selected).items()},
            "returned": len(page),
        }
        # each entry says whether its input and result are still those its
        # audit event names (a rewritten denial is flagged, not served as true)
        marked = [entry | {"intact": entry_intact(entry)} for entry in page]
        return {"decisions": marked, "next_cursor": next_cursor}

    result = await audited(services.audit, trail, step)
    return JSONResponse(result, headers={"X-Decision-Id": trail.decision_id})

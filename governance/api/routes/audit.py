"""The officer's view of the audit trail: list events, verify the chains.

Reading the trail is itself audited (`audit.read`, `audit.verify`).
"""

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from audit.query import EventFilter, list_events, utc_instant
from audit.verify import verify_trail
from governance.api.deps import ServicesDep, require
from governance.api.schemas import VerifyOut
from governance.trail import Trail, audited
from governance.types import Outcome, Principal, Role

router = APIRouter(prefix="/v1/audit", tags=["audit"])
_OFFICER = require(Role.OFFICER)
MAX_PAGE = 1000
Text = Annotated[str | None, Query(max_length=128)]


@router.get("/events")
async def events(
    services: ServicesDep,
    principal: Principal = _OFFICER,
    subject_id: Text = None,
    caller: Text = None,
    purpose: Text = None,
    outcome: Annotated[Outcome | None, Query()] = None,
    since: Annotated[str | None, Query(max_length=40)] = None,
    until: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    cursor: Annotated[str | None, Query(max_length=256)] = None,
) -> JSONResponse:
    """Audit events matching every given filter, newest first."""
    trail = Trail(kind="audit.read", caller=principal.name)

    async def step() -> dict[str, Any]:
        selected = EventFilter(
            subject_ref=services.subject_ref(subject_id) if subject_id else None,
            caller=caller,
            purpose=purpose,
            outcome=outcome.value if outcome else None,
            since=utc_instant(since, "since"),
            until=utc_instant(until, "until"),
        )
        page, next_cursor = await list_events(
            services.store, selected, limit=limit, cursor=cursor
        )
        trail.detail |= {
            "filters": {k: v is not None for k, v in asdict(selected).items()},
            "returned": len(page),
        }
        return {"events": page, "next_cursor": next_cursor}

    result = await audited(services.audit, trail, step)
    return JSONResponse(result, headers={"X-Decision-Id": trail.decision_id})


@router.get("/verify", response_model=None, responses={200: {"model": VerifyOut}})
async def verify(
    services: ServicesDep, principal: Principal = _OFFICER
) -> JSONResponse:
    """Check every chain of the trail; name the first altered, missing or inserted event."""
    trail = Trail(kind="audit.verify", caller=principal.name)

    async def step() -> dict[str, Any]:
        report = await verify_trail(services.store)
        trail.detail |= {"ok": report.ok, "events": report.events}
        return {
            "ok": report.ok,
            "events": report.events,
            "chains": report.chains,
            "first_bad": asdict(report.first_bad) if report.first_bad else None,
        }

    result = await audited(services.audit, trail, step)
    return JSONResponse(result, headers={"X-Decision-Id": trail.decision_id})

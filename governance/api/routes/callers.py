"""Caller administration (admin role): list, add and revoke callers. Each change is audited.

A change is decided from the registry as read, and the store has the last
word: a registration whose name another took meanwhile breaks the name's
uniqueness, a revocation that would leave no active admin breaks the guard
`CallerRegistry.revocation_keeping_an_admin` writes. Either way nothing is
stored (`AppendRejected`), and the change is decided once more from what
committed: refused as a sequential request would be (409 `conflict`,
409 `last_admin`), and audited so.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse

from governance.api.deps import ServicesDep, require
from governance.api.schemas import CallerIn, CallerOut
from governance.auth.registry import CallerInfo
from governance.trail import Trail, audited_retrying
from governance.types import Principal, Role

# Runs of one change while other changes of the callers commit first: of n
# admins revoking one another at once, one commits per round. A store that
# keeps rejecting past them is not such a race, and is answered as such (503).
ATTEMPTS = 8

router = APIRouter(prefix="/v1/callers", tags=["callers"])
_ADMIN = require(Role.ADMIN)


def caller_body(info: CallerInfo, key: str | None = None) -> dict[str, Any]:
    """A caller as the API shows it; the key only when just issued."""
    return CallerOut(
        name=info.name,
        role=info.role.value,
        purposes=list(info.purposes),
        key_id=info.key_id,
        created_at=info.created_at,
        revoked_at=info.revoked_at,
        records_consent=info.records_consent,
        key=key,
    ).model_dump(mode="json", exclude_none=key is None)


@router.get("", dependencies=[_ADMIN])
async def list_callers(services: ServicesDep) -> dict[str, Any]:
    """Every caller, revoked ones included."""
    return {"callers": [caller_body(c) for c in await services.callers.list()]}


@router.post("", status_code=201)
async def add_caller(
    body: CallerIn, services: ServicesDep, principal: Principal = _ADMIN
) -> JSONResponse:
    """Register a caller and issue its key; the key is shown in this answer only."""
    trail = Trail(
        kind="caller.added", caller=principal.name, detail={"name": body.name}
    )

    async def step() -> dict[str, Any]:
        info, key, stmt = await services.callers.registration(
            body.name,
            Role(body.role),
            body.purposes,
            records_consent=body.records_consent,
        )
        trail.also.append(stmt)
        trail.detail |= {
            "role": info.role.value,
            "purposes": list(info.purposes),
            "records_consent": info.records_consent,
        }
        return caller_body(info, key)

    result = await audited_retrying(services.audit, trail, step, attempts=ATTEMPTS)
    # The answer holds the key: no cache on the way may keep it.
    return JSONResponse(result, status_code=201, headers={"Cache-Control": "no-store"})


@router.post("/{name}/revoke")
async def revoke_caller(
    name: Annotated[str, Path(max_length=64)],
    services: ServicesDep,
    principal: Principal = _ADMIN,
) -> dict[str, str]:
    """Revoke a caller's key; its next request is refused. The last active admin
    key is not revoked here (409 `last_admin`): add another admin first."""
    trail = Trail(kind="caller.revoked", caller=principal.name, detail={"name": name})

    async def step() -> dict[str, str]:
        trail.also.extend(await services.callers.revocation_keeping_an_admin(name))
        return {"name": name, "status": "revoked"}

    return await audited_retrying(services.audit, trail, step, attempts=ATTEMPTS)

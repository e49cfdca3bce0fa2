"""Signed checkpoints and Merkle proofs of the audit trail, for officers and auditors.

```
GET /v1/audit/checkpoints?limit=&before=          signed checkpoint documents, newest first
GET /v1/audit/public-key                          the audit signing key(s), PEM
GET /v1/audit/proofs/inclusion?event_id=          one event in the latest checkpoint
GET /v1/audit/proofs/consistency?first=&second=   checkpoint `first` a prefix of `second`
```

Officers only; each read is itself audited (`audit.checkpoints`,
`audit.public_key`, `audit.proof`). The documents verify offline with
`govproxy audit verify-proof FILE --public-key pub.pem` (see `audit.proof`).
"""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlmodel import col

from audit.checkpoint_store import checkpoint_doc
from audit.models import MAX_STORED_INT, AuditCheckpointRow
from audit.proof import consistency_proof, inclusion_proof
from governance.api.deps import SealerDep, ServicesDep, require
from governance.services import Services
from governance.trail import Trail, audited
from governance.types import Principal, Role

router = APIRouter(prefix="/v1/audit", tags=["audit"])
_OFFICER = require(Role.OFFICER)
MAX_PAGE = 1000
# Query values bound to what the store can hold and compare: past them
# PostgreSQL fails the statement (a 500 quoting the value) instead of finding
# nothing. Event ids are UUIDs; no text the store keeps holds a control character
# (PostgreSQL's text cannot even hold NUL).
TreeSize = Annotated[int, Query(ge=1, le=MAX_STORED_INT)]
Number = Annotated[int | None, Query(ge=1, le=MAX_STORED_INT)]
EventId = Annotated[
    str, Query(min_length=1, max_length=36, pattern=r"^[^\x00-\x1f\x7f]+$")
]


@router.get("/checkpoints")
async def checkpoints(
    services: ServicesDep,
    principal: Principal = _OFFICER,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    before: Number = None,
) -> JSONResponse:
    """Signed checkpoints, newest first; `next_before` pages back."""
    trail = Trail(kind="audit.checkpoints", caller=principal.name)

    async def step() -> dict[str, Any]:
        stmt = select(AuditCheckpointRow).order_by(
            col(AuditCheckpointRow.number).desc()
        )
        if before is not None:
            stmt = stmt.where(col(AuditCheckpointRow.number) < before)
        async with services.store.connect() as conn:
            rows = (await conn.execute(stmt.limit(limit))).all()
        trail.detail |= {"returned": len(rows)}
        more = len(rows) == limit and rows[-1].number > 1
        return {
            "checkpoints": [checkpoint_doc(r) for r in rows],
            "next_before": rows[-1].number if more else None,
        }

    return await _answer(services, trail, step)


@router.get("/public-key")
async def public_key(
    services: ServicesDep, sealer: SealerDep, principal: Principal = _OFFICER
) -> JSONResponse:
    """The public key(s) that check checkpoint signatures, the current one first."""
    trail = Trail(kind="audit.public_key", caller=principal.name)

    async def step() -> dict[str, Any]:
        keys = sealer.public_keys
        return {
            "key_id": keys[0][0],
            "public_key": keys[0][1],
            "keys": [{"key_id": k, "public_key": pem} for k, pem in keys],
        }

    return await _answer(services, trail, step)


@router.get("/proofs/inclusion")
async def inclusion(
    services: ServicesDep,
    event_id: EventId,
    principal: Principal = _OFFICER,
) -> JSONResponse:
    """Proof that the event is in the latest signed checkpoint, with its stored columns."""
    trail = Trail(kind="audit.proof", caller=principal.name)
    trail.detail["proof"] = "inclusion"

    async def step() -> dict[str, Any]:
        proof = await inclusion_proof(services.store, event_id)
        trail.detail |= {"event_id": event_id, "leaf_index": proof["leaf_index"]}
        return proof

    return await _answer(services, trail, step)


@router.get("/proofs/consistency")
async def consistency(
    services: ServicesDep,
    first: TreeSize,
    second: Number = None,
    principal: Principal = _OFFICER,
) -> JSONResponse:
    """Proof that checkpoint of size `first` is a prefix of that of `second` (or the latest)."""
    trail = Trail(kind="audit.proof", caller=principal.name)
    trail.detail |= {"proof": "consistency", "first": first, "second": second}

    async def step() -> dict[str, Any]:
        return await consistency_proof(services.store, first, second)

    return await _answer(services, trail, step)


async def _answer(
    services: Services, trail: Trail, step: Callable[[], Awaitable[dict[str, Any]]]
) -> JSONResponse:
    result = await audited(services.audit, trail, step)
    return JSONResponse(result, headers={"X-Decision-Id": trail.decision_id})

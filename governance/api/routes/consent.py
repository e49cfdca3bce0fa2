"""The consent API: grant, list and withdraw a subject's consent per purpose.

A grant or withdrawal is stored in the same transaction as its audit event,
and takes effect for the very next request: consent state is never cached.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path
from fastapi.responses import JSONResponse

from governance.api.deps import ServicesDep, require
from governance.api.schemas import ConsentIn, ConsentsOut, WithdrawIn
from governance.catalog import Purpose
from governance.consent.ledger import ConsentAction, ConsentChange
from governance.consent.models import ConsentEvent
from governance.consent.rules import check_evidence
from governance.errors import InvalidRequest, PurposeNotPermitted
from governance.services import Services
from governance.trail import Trail, audited
from governance.types import ConsentState, Principal, Role

router = APIRouter(prefix="/v1/subjects/{subject_id}/consents", tags=["consent"])
SubjectId = Annotated[str, Path(min_length=1, max_length=128)]
_WRITERS = require(Role.SERVICE, Role.ADMIN)
_READERS = require(Role.SERVICE, Role.OFFICER, Role.ADMIN)


def _consent_purpose(services: Services, principal: Principal, name: str) -> Purpose:
    purpose = services.catalog.purposes.get(name)
    if purpose is None:
        raise InvalidRequest("purpose names no declared purpose")
    if principal.role is Role.SERVICE and name not in principal.purposes:
        raise PurposeNotPermitted("the caller may not record consent for this purpose")
    if not purpose.requires_consent:
        raise InvalidRequest("this purpose's legal basis is not consent")
    return purpose


def _trail(
    kind: str, principal: Principal, services: Services, subject_id: str
) -> Trail:
    return Trail(
        kind=kind, caller=principal.name, subject_ref=services.subject_ref(subject_id)
    )


@router.post("", status_code=201)
async def grant(
    subject_id: SubjectId,
    body: ConsentIn,
    services: ServicesDep,
    principal: Principal = _WRITERS,
) -> JSONResponse:
    """Record that the subject consented to a purpose."""
    trail = _trail("consent.granted", principal, services, subject_id)

    async def step() -> dict[str, Any]:
        purpose = _consent_purpose(services, principal, body.purpose)
        trail.purpose = purpose.name
        check_evidence(body.method, body.channel)
        change = ConsentChange(
            subject_id,
            purpose.name,
            ConsentAction.GRANTED,
            body.notice_version,
            body.method,
            body.channel,
            principal.name,
        )
        event_id, stmt = change.statement()
        trail.also.append(stmt)
        trail.detail |= {
            "consent_event_id": event_id,
            "notice_version": body.notice_version,
        }
        return {
            "event_id": event_id,
            "subject_id": subject_id,
            "purpose": purpose.name,
            "state": ConsentState.GRANTED.value,
        }

    result = await audited(services.audit, trail, step)
    return JSONResponse(
        result, status_code=201, headers={"X-Decision-Id": trail.decision_id}
    )


@router.post("/{purpose}/withdraw")
async def withdraw(
    subject_id: SubjectId,
    purpose: Annotated[str, Path(min_length=1, max_length=64)],
    services: ServicesDep,
    body: Annotated[WithdrawIn | None, Body()] = None,
    principal: Principal = _WRITERS,
) -> JSONResponse:
    """Withdraw the subject's consent for a purpose; effective for the next request."""
    trail = _trail("consent.withdrawn", principal, services, subject_id)
    how = body or WithdrawIn()

    async def step() -> dict[str, Any]:
        declared = _consent_purpose(services, principal, purpose)
        trail.purpose = declared.name
        check_evidence(how.method, how.channel)
        state = await services.consents.state(subject_id, declared.name)
        answer = {
            "subject_id": subject_id,
            "purpose": declared.name,
            "event_id": None,
            "state": ConsentState.WITHDRAWN.value
            if state is ConsentState.GRANTED
            else state.value,
            "changed": state is ConsentState.GRANTED,
        }
        if state is ConsentState.GRANTED:
            latest = await _latest(services, subject_id, declared.name)
            change = ConsentChange(
                subject_id,
                declared.name,
                ConsentAction.WITHDRAWN,
                latest.notice_version if latest else "unknown",
                how.method,
                how.channel,
                principal.name,
            )
            answer["event_id"], stmt = change.statement()
            trail.also.append(stmt)
            trail.detail["consent_event_id"] = answer["event_id"]
        trail.detail["changed"] = answer["changed"]
        return answer

    result = await audited(services.audit, trail, step)
    return JSONResponse(result, headers={"X-Decision-Id": trail.decision_id})


async def _latest(
    services: Services, subject_id: str, purpose: str
) -> ConsentEvent | None:
    events = [
        e for e in await services.consents.history(subject_id) if e.purpose == purpose
    ]
    return events[-1] if events else None


@router.get("", response_model=None, responses={200: {"model": ConsentsOut}})
async def list_consents(
    subject_id: SubjectId, services: ServicesDep, principal: Principal = _READERS
) -> JSONResponse:
    """The subject's current consent per purpose and the full event history."""
    trail = _trail("consent.read", principal, services, subject_id)

    async def step() -> dict[str, Any]:
        events = await services.consents.history(subject_id)
        if principal.role is Role.SERVICE:
            events = [e for e in events if e.purpose in principal.purposes]
        return _consents_body(subject_id, events)

    result = await audited(services.audit, trail, step)
    return JSONResponse(result, headers={"X-Decision-Id": trail.decision_id})


def _consents_body(subject_id: str, events: list[ConsentEvent]) -> dict[str, Any]:
    latest: dict[str, ConsentEvent] = {}
    for event in events:
        latest[event.purpose] = event
    return {
        "subject_id": subject_id,
        "consents": [
            {
                "purpose": p,
                "state": e.action,
                "since": e.recorded_at.isoformat(),
                "notice_version": e.notice_version,
            }
            for p, e in sorted(latest.items())
        ],
        "events": [
            {
                k: getattr(e, k)
                for k in (
                    "event_id",
                    "purpose",
                    "action",
                    "notice_version",
                    "method",
                    "channel",
                    "recorded_by",
                )
            }
            | {"recorded_at": e.recorded_at.isoformat()}
            for e in events
        ],
    }

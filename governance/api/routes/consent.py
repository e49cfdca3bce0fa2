"""The consent API: grant, list, withdraw (one purpose or all marketing), as-of, opt-out.

Every change is stored in the same transaction as its audit event and takes
effect for the very next request: consent state is never cached.
"""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query
from fastapi.responses import JSONResponse
from pydantic import BeforeValidator

from governance.api.deps import ServicesDep, require
from governance.api.schemas import (
    ConsentIn,
    ConsentsOut,
    PersonalisationIn,
    WithdrawIn,
    iso_text,
)
from governance.consent.grant import (
    OPT_METHOD,
    GrantRequest,
    changes_for_grant,
    changes_for_opt,
    changes_for_withdrawal,
    consent_purpose,
    given_utc,
    validate_grant,
)
from governance.consent.ledger import PERSONALISATION, ConsentAction
from governance.consent.rules import check_evidence
from governance.consent.service import (
    grantable_subject,
    receipt_fields,
    record,
    require_recorder,
    subject_exists,
    withdraw_all_marketing,
)
from governance.consent.view import consents_body, event_body, record_body
from governance.errors import InvalidRequest, PurposeNotPermitted, UnknownSubject
from governance.services import Services
from governance.trail import Trail, audited_change
from governance.types import Principal, Role

router = APIRouter(prefix="/v1/subjects/{subject_id}", tags=["consent"])
SubjectId = Annotated[str, Path(min_length=1, max_length=128)]
PurposeName = Annotated[str, Path(min_length=1, max_length=64)]
_WRITERS = require(Role.SERVICE, Role.ADMIN)
_READERS = require(Role.SERVICE, Role.OFFICER, Role.ADMIN)
_OFFICERS = require(Role.OFFICER, Role.ADMIN)


def _allowed(principal: Principal, purpose: str) -> None:
    if principal.role is Role.SERVICE and purpose not in principal.purposes:
        raise PurposeNotPermitted("the caller may not act on consent for this purpose")


def _trail(
    kind: str, principal: Principal, services: Services, subject_id: str
) -> Trail:
    return Trail(
        kind=kind, caller=principal.name, subject_ref=services.subject_ref(subject_id)
    )


async def _answer(
    services: Services, trail: Trail, step: Any, status: int = 200
) -> JSONResponse:
    result = await audited_change(services.audit, trail, step)
    return JSONResponse(
        result, status_code=status, headers={"X-Decision-Id": trail.decision_id}
    )


@router.post("/consents", status_code=201)
async def grant(
    subject_id: SubjectId,
    body: ConsentIn,
    services: ServicesDep,
    principal: Principal = _WRITERS,
) -> JSONResponse:
    """Record a consent with its evidence; answer with a signed receipt."""
    trail = _trail("consent.granted", principal, services, subject_id)

    async def step() -> dict[str, Any]:
        require_recorder(principal)
        trail.purpose = consent_purpose(services.catalog, body.purpose).name
        _allowed(principal, body.purpose)
        now = services.now()
        scope = tuple(body.scope) if body.scope is not None else None
        request = GrantRequest(
            subject_id, **body.model_dump(exclude={"scope"}), scope=scope
        )
        change = validate_grant(
            services.catalog, request, recorded_by=principal.name, now=now
        )
        await grantable_subject(services, subject_id, change.grantor, now=now)
        changes = await changes_for_grant(services.consents, change, now=now)
        event_id = record(trail, changes, at=now)[-1]
        trail.detail |= {"notice_version": change.notice_version, "kind": change.kind}
        receipt = services.receipts.sign(
            receipt_fields(services, change, event_id, now)
        )
        return {
            "event_id": event_id,
            "subject_id": subject_id,
            "purpose": change.purpose,
            "state": "granted",
            "superseded": len(changes) > 1,
            "receipt": receipt,
        }

    return await _answer(services, trail, step, 201)


@router.post("/consents/{purpose}/withdraw")
async def withdraw(
    subject_id: SubjectId,
    purpose: PurposeName,
    services: ServicesDep,
    body: Annotated[WithdrawIn | None, Body()] = None,
    principal: Principal = _WRITERS,
) -> JSONResponse:
    """Withdraw the subject's consent for a purpose; effective for the next request."""
    trail = _trail("consent.withdrawn", principal, services, subject_id)
    how = body or WithdrawIn()

    async def step() -> dict[str, Any]:
        declared = consent_purpose(services.catalog, purpose)
        _allowed(principal, purpose)
        trail.purpose = declared.name
        changes = await changes_for_withdrawal(
            services.consents,
            subject_id,
            declared,
            method=how.method,
            channel=how.channel,
            recorded_by=principal.name,
            now=services.now(),
        )
        ids = record(trail, changes)
        trail.detail["changed"] = bool(ids)
        return {
            "subject_id": subject_id,
            "purpose": declared.name,
            "state": "withdrawn"
            if ids
            else (
                await services.consents.current(
                    subject_id, declared.name, now=services.now()
                )
            ).state.value,
            "changed": bool(ids),
            "event_id": ids[0] if ids else None,
        }

    return await _answer(services, trail, step)


@router.post("/consents/withdraw-marketing")
async def withdraw_marketing(
    subject_id: SubjectId,
    services: ServicesDep,
    body: Annotated[WithdrawIn | None, Body()] = None,
    principal: Principal = _WRITERS,
) -> JSONResponse:
    """Withdraw every marketing consent of the subject at once."""
    trail = _trail("consent.withdrawn", principal, services, subject_id)
    how = body or WithdrawIn()

    async def step() -> dict[str, Any]:
        withdrawn = await withdraw_all_marketing(
            services,
            trail,
            subject_id,
            principal,
            method=how.method,
            channel=how.channel,
        )
        return {"subject_id": subject_id, "withdrawn": withdrawn}

    return await _answer(services, trail, step)


@router.post("/personalisation")
async def personalisation(
    subject_id: SubjectId,
    body: PersonalisationIn,
    services: ServicesDep,
    principal: Principal = _WRITERS,
) -> JSONResponse:
    """Turn personalisation off (or back on) for the subject (A-01).

    Any service may record an opt-out; turning it back on is the subject's
    agreement, recorded only by a caller that records consent.
    """
    trail = _trail("consent.personalisation", principal, services, subject_id)

    async def step() -> dict[str, Any]:
        if body.enabled:
            require_recorder(principal)
        check_evidence(OPT_METHOD, body.channel)
        if not await subject_exists(services, subject_id):
            raise UnknownSubject("no catalogued dataset holds this subject")
        action = ConsentAction.OPTED_IN if body.enabled else ConsentAction.OPTED_OUT
        changes = await changes_for_opt(
            services.consents, subject_id, action, body.channel, principal.name
        )
        changed = bool(record(trail, changes))
        trail.detail |= {"enabled": body.enabled, "changed": changed}
        return {
            "subject_id": subject_id,
            "personalisation": body.enabled,
            "changed": changed,
        }

    return await _answer(services, trail, step)


@router.get("/consents", response_model=None, responses={200: {"model": ConsentsOut}})
async def list_consents(
    subject_id: SubjectId, services: ServicesDep, principal: Principal = _READERS
) -> JSONResponse:
    """The subject's current consent per purpose and the full event history."""
    trail = _trail("consent.read", principal, services, subject_id)

    async def step() -> dict[str, Any]:
        events = await services.consents.history(subject_id)
        if principal.role is Role.SERVICE:
            events = [
                e for e in events if e.purpose in principal.purposes | {PERSONALISATION}
            ]
        return consents_body(services.catalog, subject_id, events, services.now())

    return await _answer(services, trail, step)


@router.get("/consents/{purpose}/as-of")
async def as_of(
    subject_id: SubjectId,
    purpose: PurposeName,
    services: ServicesDep,
    at: Annotated[
        datetime,
        BeforeValidator(iso_text),
        Query(description="The instant, ISO 8601 with offset."),
    ],
    principal: Principal = _OFFICERS,
) -> JSONResponse:
    """The consent as it stood at an instant, with the events that produced it."""
    trail = _trail("consent.read", principal, services, subject_id)

    async def step() -> dict[str, Any]:
        if at.tzinfo is None:
            raise InvalidRequest(
                "at needs a UTC offset, e.g. 2026-03-01T10:00:00+08:00"
            )
        instant = given_utc(at, "at")
        declared = consent_purpose(services.catalog, purpose)
        trail.purpose = declared.name
        record_at, events = await services.consents.as_of(
            subject_id, declared.name, instant
        )
        return {
            "subject_id": subject_id,
            "purpose": declared.name,
            "at": at.isoformat(),
            **record_body(record_at),
            "events": [event_body(e) for e in events],
        }

    return await _answer(services, trail, step)

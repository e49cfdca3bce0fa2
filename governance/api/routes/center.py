"""The consent center: a sealed link for the subject, and the page it opens (C-08, A-01).

`POST /v1/subjects/{subject_id}/consent-center-link` (service or admin) issues a
link. `GET /consent-center/{token}` shows the subject's consents, the
personalisation switch and who read their data. Three form POSTs withdraw one
purpose, withdraw every marketing purpose, or flip personalisation, then 303
back to the page, whose query names what changed for `governance.center.flash`
to confirm (or that nothing did). Changes go through the consent API's own functions, are
recorded by caller `consent-center` on channel `h5` as `user_request`, and
commit with their audit event before the redirect: the next read sees them.

The token in the path is the only credential and also what makes the forms
unforgeable from another site. A forged, tampered or expired token gets a
Chinese 403 page, as does any other refusal (as its own status): never
problem+json, never a trace. So does any other path under `/consent-center/`:
a GET (an action URL opened as a link, a bookmark) goes back to the page, any
other method gets the 404 page. Only the link API appears in OpenAPI.
"""

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import parse_qs, urlencode

import structlog
from fastapi import APIRouter, Body, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from governance.api.deps import ServicesDep, require
from governance.api.routes.consent import SubjectId
from governance.api.schemas import CenterLinkIn, CenterLinkOut, WithdrawIn
from governance.center.flash import MARKETING, done_query
from governance.center.links import LinkError, LinkExpired, link_expiry
from governance.center.page import render_center, render_error
from governance.center.view import load_view
from governance.consent.grant import changes_for_opt, changes_for_withdrawal
from governance.consent.ledger import PERSONALISATION, ConsentAction
from governance.consent.service import (
    record,
    require_recorder,
    subject_exists,
    withdraw_all_marketing,
)
from governance.errors import GovernanceError, InvalidRequest, NotFound, UnknownSubject
from governance.services import Services
from governance.trail import Trail, audited, audited_change
from governance.types import Actor, Principal, Role

router = APIRouter()
CALLER, CHANNEL, METHOD = Actor.CONSENT_CENTER, "h5", "user_request"
_ISSUERS = require(Role.SERVICE, Role.ADMIN)
_HOW = WithdrawIn(method=METHOD, channel=CHANNEL)
# The subject acts on all of their own purposes; withdraw_all_marketing narrows
# to a principal's purposes only for service callers.
_SUBJECT = Principal(name=CALLER, role=Role.ADMIN, purposes=frozenset())
_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
}
_log = structlog.get_logger("governance.center")
Change = Callable[[str, Trail], Awaitable[dict[str, str]]]


@router.post(
    "/v1/subjects/{subject_id}/consent-center-link",
    status_code=201,
    tags=["consent"],
    response_model=None,
    responses={201: {"model": CenterLinkOut}},
)
async def issue_link(
    subject_id: SubjectId,
    services: ServicesDep,
    body: Annotated[CenterLinkIn | None, Body()] = None,
    principal: Principal = _ISSUERS,
) -> JSONResponse:
    """A link that opens the subject's consent center; hand it only to the subject."""
    trail = Trail(kind="consent.center_link", caller=principal.name,
                  subject_ref=services.subject_ref(subject_id))  # fmt: skip
    ttl = timedelta(minutes=(body or CenterLinkIn()).ttl_minutes)

    async def step() -> dict[str, Any]:
        require_recorder(principal)
        if not await subject_exists(services, subject_id):
            raise UnknownSubject("no catalogued dataset holds this subject")
        now = services.now()
        token = services.links.issue(subject_id, ttl=ttl, now=now)
        expires_at = link_expiry(now, ttl).isoformat()
        trail.detail |= {"ttl_minutes": ttl // timedelta(minutes=1),
                         "expires_at": expires_at}  # fmt: skip
        return {"url": f"/consent-center/{token}", "expires_at": expires_at}

    result = await audited(services.audit, trail, step)
    return JSONResponse(  # the link is a bearer credential: no cache may keep it
        result,
        status_code=201,
        headers={"X-Decision-Id": trail.decision_id, "Cache-Control": "no-store"},
    )


@router.get("/consent-center/{token}", include_in_schema=False)
async def center_page(
    token: str,
    services: ServicesDep,
    done: str | None = None,
    unchanged: str | None = None,
) -> Response:
    """The subject's consent center."""
    try:
        subject_id = _open(services, token)
        trail = _trail("consent.read", services, subject_id)
        view = await audited(
            services.audit,
            trail,
            lambda: load_view(services, subject_id, done=done, unchanged=unchanged),
        )
    except (LinkError, GovernanceError) as exc:
        return _refused(exc)
    return HTMLResponse(render_center(view, token=token), headers=_HEADERS)


@router.post("/consent-center/{token}/withdraw/{purpose}", include_in_schema=False)
async def center_withdraw(token: str, purpose: str, services: ServicesDep) -> Response:
    """Withdraw the consent for one purpose."""

    async def change(subject_id: str, trail: Trail) -> dict[str, str]:
        declared = services.catalog.purposes.get(purpose)
        if declared is None or not declared.requires_consent:
            raise NotFound("no consent purpose of that name")
        trail.purpose = declared.name
        changes = await changes_for_withdrawal(
            services.consents, subject_id, declared, method=METHOD, channel=CHANNEL,
            recorded_by=CALLER, now=services.now(),
        )  # fmt: skip
        ids = record(trail, changes)
        trail.detail["changed"] = bool(ids)
        return done_query(ids, declared.name)

    return await _act(services, token, "consent.withdrawn", change)


@router.post("/consent-center/{token}/withdraw-marketing", include_in_schema=False)
async def center_withdraw_marketing(token: str, services: ServicesDep) -> Response:
    """Withdraw every marketing consent at once."""

    async def change(subject_id: str, trail: Trail) -> dict[str, str]:
        await withdraw_all_marketing(
            services,
            trail,
            subject_id,
            _SUBJECT,
            method=_HOW.method,
            channel=_HOW.channel,
        )
        return done_query(trail.detail["consent_event_ids"], MARKETING)

    return await _act(services, token, "consent.withdrawn", change)


@router.post("/consent-center/{token}/personalisation", include_in_schema=False)
async def center_personalisation(
    token: str, request: Request, services: ServicesDep
) -> Response:
    """Turn personalisation off or back on (form field `enabled=true|false`)."""

    async def change(subject_id: str, trail: Trail) -> dict[str, str]:
        enabled = _enabled(await request.body())
        action = ConsentAction.OPTED_IN if enabled else ConsentAction.OPTED_OUT
        changes = await changes_for_opt(
            services.consents, subject_id, action, CHANNEL, CALLER
        )
        ids = record(trail, changes)
        trail.detail |= {"enabled": enabled, "changed": bool(ids)}
        return done_query(ids, PERSONALISATION)

    return await _act(services, token, "consent.personalisation", change)


def _open(services: Services, token: str) -> str:
    try:
        return services.links.open(token, now=services.now())
    except LinkError as exc:
        reason = "expired" if isinstance(exc, LinkExpired) else "invalid"
        _log.warning("center_link_refused", reason=reason)
        raise


def _trail(kind: str, services: Services, subject_id: str) -> Trail:
    return Trail(kind=kind, caller=CALLER, subject_ref=services.subject_ref(subject_id),
                 detail={"channel": CHANNEL})  # fmt: skip


def _enabled(body: bytes) -> bool:
    values = parse_qs(body.decode("utf-8", "replace"), max_num_fields=8).get("enabled")
    if values not in (["true"], ["false"]):
        raise InvalidRequest("enabled must be true or false")
    return values == ["true"]


async def _act(services: Services, token: str, kind: str, change: Change) -> Response:
    """Open the token, make the change under its audit event, 303 back to the page."""
    try:
        subject_id = _open(services, token)
        trail = _trail(kind, services, subject_id)
        query = await audited_change(
            services.audit, trail, lambda: change(subject_id, trail)
        )
    except (LinkError, GovernanceError) as exc:
        return _refused(exc)
    return RedirectResponse(
        f"/consent-center/{token}?{urlencode(query)}", status_code=303, headers=_HEADERS
    )


@router.api_route(
    "/consent-center/{path:path}",
    methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
    include_in_schema=False,
)
async def center_elsewhere(
    path: str, request: Request, services: ServicesDep
) -> Response:
    """Any other path under the center: back to the page for a GET, if the link opens.

    Declared last, so the page and its actions match first; a method those
    routes do not take lands here too, instead of a problem+json 405.
    """
    token = path.split("/", 1)[0]
    try:
        _open(services, token)
    except LinkError as exc:
        return _refused(exc)
    if request.method not in ("GET", "HEAD"):
        return _refused(NotFound("no such action"))
    return RedirectResponse(
        f"/consent-center/{token}", status_code=303, headers=_HEADERS
    )


def _refused(exc: LinkError | GovernanceError) -> HTMLResponse:
    status = 403 if isinstance(exc, LinkError) else exc.status
    status = 400 if status == 422 else 503 if status >= 500 else status
    return HTMLResponse(render_error(status), status_code=status, headers=_HEADERS)

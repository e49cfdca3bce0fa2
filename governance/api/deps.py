"""FastAPI dependencies: the running services and the authenticated caller."""

import re
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, Request

from audit.checkpoint_task import Sealer
from governance.budget import admit, admit_attempt, client_address
from governance.catalog.models import NAME, REFERENCE
from governance.errors import AuthenticationFailed, ForbiddenRole, InvalidRequest
from governance.services import Services
from governance.trail import refused
from governance.types import Principal, Role


async def get_services(request: Request) -> Services:
    """The services of the app handling this request."""
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_sealer(request: Request) -> Sealer:
    """The audit checkpoint sealer of the app handling this request."""
    sealer: Sealer = request.app.state.checkpoints
    return sealer


SealerDep = Annotated[Sealer, Depends(get_sealer)]


async def get_principal(
    request: Request,
    services: ServicesDep,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Principal | None:
    """The caller a `Bearer` key belongs to, or None (handlers decide what that means)."""
    return await bearer(request, services, authorization)


async def bearer(
    request: Request, services: Services, authorization: str | None
) -> Principal | None:
    """The caller of an `Authorization: Bearer <key>` header's value, or None.

    A caller is charged one request of its budget here, a request without a
    valid key one attempt of its address's (`governance.budget`).
    """
    scheme, _, token = (authorization or "").partition(" ")
    principal = None
    if scheme.lower() == "bearer":  # auth schemes are case-insensitive (RFC 9110 11.1)
        principal = await services.callers.authenticate(token.strip())
    if principal is None:
        await admit_attempt(
            services.attempts, services.audit, _peer(request), _route(request)
        )
    else:
        await admit(services.budget, services.audit, principal, _route(request))
    return principal


def _peer(request: Request) -> str:
    """The client's address as the attempt budget counts it (`client_address`:
    canonical, an IPv6 client's /64, `invalid` when not an address).

    The host is uvicorn's, forwarded headers from trusted proxies applied: its
    text is the header's, whatever that holds, so it is never used as it is.
    """
    return client_address(request.client.host if request.client else None)


def _route(request: Request) -> str:
    """The request's method and route template: never the values in its path."""
    return f"{request.method} {getattr(request.scope.get('route'), 'path', '?')}"


MaybePrincipalDep = Annotated[Principal | None, Depends(get_principal)]
MAX_PURPOSE = 64
PurposeHeader = Annotated[
    str | None,
    Header(
        alias="X-Purpose",
        max_length=MAX_PURPOSE,
        description="Declared processing purpose.",
    ),
]


def require(*roles: Role) -> Any:
    """A dependency that admits only callers holding one of `roles`.

    A known caller refused for its role is audited (`caller.role`, naming the
    route template): a service key probing the trail or the caller registry
    leaves a trace in the trail itself.
    """

    async def dependency(
        request: Request, services: ServicesDep, principal: MaybePrincipalDep
    ) -> Principal:
        if principal is None:
            await refused(
                services.audit,
                "caller.unauthenticated",
                None,
                _route(request),
                AuthenticationFailed("a valid bearer key is required"),
            )
        if principal.role not in roles:
            await refused(
                services.audit,
                "caller.role",
                principal.name,
                _route(request),
                ForbiddenRole("this endpoint is not open to the caller's role"),
            )
        return principal

    return Depends(dependency)


_NAME = re.compile(NAME)
_REFERENCE = re.compile(REFERENCE)


@dataclass(frozen=True)
class AccessHeaders:
    """What a governed access declares in its headers (`PurposeHeader` and the
    routes' `X-Recipient`, `X-Approval-Ref`), for routes that read them by hand."""

    purpose: str | None
    recipient: str | None
    approval_ref: str | None

    @classmethod
    def of(cls, request: Request) -> "AccessHeaders":
        """The headers of `request`, checked as their declarations check them.

        Raises:
            InvalidRequest: a header is malformed; the message names the header,
                never its value.
        """
        headers = request.headers
        purpose = headers.get("x-purpose")
        recipient = headers.get("x-recipient")
        approval = headers.get("x-approval-ref")
        if purpose is not None and len(purpose) > MAX_PURPOSE:
            raise InvalidRequest(f"X-Purpose is at most {MAX_PURPOSE} characters")
        if recipient is not None and not _NAME.match(recipient):
            raise InvalidRequest("X-Recipient must be a registered recipient's name")
        if approval is not None and not _REFERENCE.match(approval):
            raise InvalidRequest("X-Approval-Ref must be an approval reference")
        return cls(purpose, recipient, approval)

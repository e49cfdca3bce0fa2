"""FastAPI dependencies: the running services and the authenticated caller."""

from typing import Annotated, Any

from fastapi import Depends, Header, Request

from audit.checkpoint_task import Sealer
from governance.budget import admit
from governance.errors import AuthenticationFailed, ForbiddenRole
from governance.services import Services
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
    """The caller a `Bearer` key belongs to, or None (handlers decide what that means).

    A caller is charged one request of its budget here (`governance.budget`).
    """
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer":  # auth schemes are case-insensitive (RFC 9110 11.1)
        return None
    principal = await services.callers.authenticate(token.strip())
    if principal is not None:
        route = getattr(request.scope.get("route"), "path", "?")
        await admit(
            services.budget, services.audit, principal, f"{request.method} {route}"
        )
    return principal


MaybePrincipalDep = Annotated[Principal | None, Depends(get_principal)]
PurposeHeader = Annotated[
    str | None,
    Header(
        alias="X-Purpose", max_length=64, description="Declared processing purpose."
    ),
]


def require(*roles: Role) -> Any:
    """A dependency that admits only callers holding one of `roles`."""

    async def dependency(principal: MaybePrincipalDep) -> Principal:
        if principal is None:
            raise AuthenticationFailed("a valid bearer key is required")
        if principal.role not in roles:
            raise ForbiddenRole("this endpoint is not open to the caller's role")
        return principal

    return Depends(dependency)

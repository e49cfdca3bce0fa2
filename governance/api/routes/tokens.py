"""Tokens: `POST /v1/tokens/detokenise` turns tokens back into values (K-04).

Only for a service acting for a purpose the catalog allows to detokenise, and
audited like a read (`access.detokenise`: the count of tokens and of each
category, never a token or a value); see `governance.masking.detokenise`. A
token that does not open is refused without being echoed.
"""

from typing import Annotated, Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from governance.api.deps import MaybePrincipalDep, PurposeHeader, ServicesDep
from governance.masking.detokenise import detokenise
from governance.masking.operators.tokenise import MAX_TOKEN_CHARS
from governance.trail import Trail, audited

router = APIRouter(prefix="/v1/tokens", tags=["tokens"])
MAX_TOKENS = 1000


class DetokeniseIn(BaseModel):
    """Tokens to open, as `tokenise` made them (`tk1_…`)."""

    model_config = ConfigDict(extra="forbid")

    tokens: list[Annotated[str, Field(min_length=1, max_length=MAX_TOKEN_CHARS)]] = (
        Field(min_length=1, max_length=MAX_TOKENS)
    )


class DetokeniseOut(BaseModel):
    """The values, in the order of the tokens."""

    values: list[str | int]
    decision_id: str


@router.post(
    "/detokenise", response_model=None, responses={200: {"model": DetokeniseOut}}
)
async def detokenise_tokens(
    body: DetokeniseIn,
    services: ServicesDep,
    principal: MaybePrincipalDep,
    purpose: PurposeHeader = None,
) -> JSONResponse:
    """Turn tokens of the purpose's domain back into values, if the purpose may."""
    trail = Trail(kind="access.detokenise")

    async def step() -> dict[str, Any]:
        return detokenise(
            services,
            trail,
            principal=principal,
            purpose_name=purpose,
            tokens=body.tokens,
        )

    result = await audited(services.audit, trail, step)
    return JSONResponse(
        result,
        headers={"X-Decision-Id": trail.decision_id, "Cache-Control": "no-store"},
    )

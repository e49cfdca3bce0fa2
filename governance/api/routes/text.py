"""Free text in, the same text with its personal values masked out.

`POST /v1/text/redact` is for service callers (a marketing tool sending copy,
chat excerpts or an LLM prompt) acting for a declared purpose. Like every
access it is audited before it is answered: the event (`text.redact`) records
the caller, the purpose, the text's length and how many entities of each type
were masked, never a value.
"""

from collections import Counter
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from governance.api.deps import MaybePrincipalDep, PurposeHeader, ServicesDep
from governance.errors import InvalidRequest
from governance.pii import Redaction, redact
from governance.pipeline import require_role, resolve_purpose
from governance.trail import Trail, audited
from governance.types import Role

router = APIRouter(prefix="/v1/text", tags=["text"])
OFF_LOOP_CHARS = 16_384
"""Texts longer than this are scanned in a worker thread, off the event loop."""


class RedactIn(BaseModel):
    """A text to mask; the body size limit bounds its length."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(
        description="UTF-8 text; offsets in the answer count code points."
    )


class EntityOut(BaseModel):
    """Where one personal value was, and of which type (never the value)."""

    type: str
    start: int
    end: int
    score: float


class RedactOut(BaseModel):
    """The masked text and what was masked in it."""

    text: str
    entities: list[EntityOut]
    decision_id: str


@router.post("/redact", response_model=None, responses={200: {"model": RedactOut}})
async def redact_text(
    body: RedactIn,
    services: ServicesDep,
    principal: MaybePrincipalDep,
    purpose: PurposeHeader = None,
) -> JSONResponse:
    """Mask every personal value found in the text, in place."""
    trail = Trail(kind="text.redact")

    async def step() -> dict[str, Any]:
        caller = require_role(principal, Role.SERVICE)
        trail.caller = caller.name
        resolve_purpose(services.catalog, caller, purpose, trail)
        if not _is_unicode(body.text):
            raise InvalidRequest(
                "text must be valid Unicode (it holds a lone surrogate)"
            )
        result = await _redact(body.text)
        trail.detail["characters"] = len(body.text)
        trail.detail["entities"] = dict(Counter(e.type.value for e in result.entities))
        return {
            "text": result.text,
            "entities": [e.as_dict() for e in result.entities],
            "decision_id": trail.decision_id,
        }

    answer = await audited(services.audit, trail, step)
    return JSONResponse(answer, headers={"X-Decision-Id": trail.decision_id})


def _is_unicode(text: str) -> bool:
    """False for text JSON let through but UTF-8 cannot hold ("\\ud800")."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


async def _redact(text: str) -> Redaction:
    if len(text) > OFF_LOOP_CHARS:
        return await run_in_threadpool(redact, text)
    return redact(text)

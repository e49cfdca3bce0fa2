"""RFC 9457 problem+json for every error, in one place.

Each `GovernanceError` maps to its own status and stable `code`. Validation
errors become `invalid_request` without echoing the offending input (it may be
personal data). Anything unexpected becomes a bare 500 `internal_error`: no
stack trace, no message, nothing from the request.
"""

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from governance.errors import GovernanceError, RateLimited

PROBLEM_JSON = "application/problem+json"
_log = structlog.get_logger("governance.api")
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}


def problem(
    status: int,
    code: str,
    title: str,
    detail: str,
    *,
    decision_id: str | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    """Render one problem response."""
    body: dict[str, Any] = {
        "type": f"https://govproxy.example/problems/{code}",
        "title": title,
        "status": status,
        "code": code,
        "detail": detail,
    }
    headers = {}
    if decision_id:
        body["decision_id"] = decision_id
        headers["X-Decision-Id"] = decision_id
    body |= extra or {}
    return JSONResponse(
        body, status_code=status, media_type=PROBLEM_JSON, headers=headers
    )


async def _governance_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, GovernanceError)  # noqa: S101 - registered for this type only
    extra = {"reasons": list(exc.reasons)} if exc.reasons else None
    headers_extra = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else {}
    if isinstance(exc, RateLimited):
        headers_extra["Retry-After"] = str(exc.retry_after_s)
    response = problem(
        exc.status,
        exc.code,
        exc.title,
        exc.detail,
        decision_id=exc.decision_id,
        extra=extra,
    )
    response.headers.update(headers_extra)
    return response


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)  # noqa: S101 - registered for this type only
    where = sorted({_where(e) for e in exc.errors()})
    errors = [{"loc": w} for w in where]
    return problem(
        422,
        "invalid_request",
        "Invalid request",
        "the request does not match the API: see `errors` for where",
        extra={"errors": errors},
    )


def _where(error: Any) -> str:
    """Where a validation error is, without echoing anything the client chose."""
    loc = [str(p) for p in error.get("loc", ())]
    if error.get("type") == "extra_forbidden" and loc:
        loc[-1] = "(unknown key)"  # the key itself is client input
    return ".".join(loc)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101 - registered for this type only
    if exc.status_code == 400:  # FastAPI's own parse failures, e.g. a body not in UTF-8
        return problem(
            422, "invalid_request", "Invalid request", "the body cannot be parsed"
        )
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    return problem(exc.status_code, code, code.replace("_", " ").capitalize(), code)


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    _log.error("unhandled_error", error=type(exc).__name__)
    return problem(
        500,
        "internal_error",
        "Internal error",
        "the proxy failed; nothing was returned",
    )


def install_problem_handlers(app: FastAPI) -> None:
    """Register the handlers on `app`."""
    app.add_exception_handler(GovernanceError, _governance_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)

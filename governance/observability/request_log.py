"""One canonical log line and the request metrics per HTTP request: `RequestLog`.

A pure ASGI middleware (no per-request task or body copy). It takes the
request's id from `X-Request-Id` when that is a UUID or 32 hexadecimal digits
(nginx's `$request_id`), else makes one, binds it to structlog's context for
every line logged during the request, and echoes it in the response. When the
response has ended it logs `event="request"` with the route template (never
the path: paths carry subject ids and link tokens), the status, the problem
code of a problem+json answer, the duration, and what the audited action told
it through `note_access` (decision id, caller, purpose, kind, outcome).
Nothing from the query string, the headers or a body is logged.

A request the HTTP parser refuses never reaches the app, nor this middleware:
the protocol (`governance.api.protocol`) logs and counts its line through
`refused_unread`, so every answer the proxy sends has one.
"""

import os
import re
from contextvars import ContextVar
from dataclasses import dataclass
from time import perf_counter
from typing import Any

import orjson
import structlog
from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from governance.observability.metrics import REQUEST_SECONDS, REQUESTS

_WELL_FORMED_ID = re.compile(
    rb"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
)
_CODE = re.compile(r"[a-z][a-z_]{0,63}")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_PROBLEM = b"application/problem+json"
UNMATCHED = "unmatched"


@dataclass(slots=True)
class _Facts:
    """What one request's canonical line says, filled in as the request runs."""

    request_id: str
    status: int = 0  # until the app starts its response
    problem: bytes | None = None  # the problem+json body, when the answer is one
    code: str = ""
    decision_id: str | None = None
    caller: str | None = None
    purpose: str | None = None
    kind: str | None = None
    outcome: str | None = None


_log = structlog.get_logger("governance.request")
_FACTS: ContextVar[_Facts | None] = ContextVar("govproxy_request", default=None)
_Children = tuple[Counter, Histogram]
_bound: dict[tuple[str, str, int, str], _Children] = {}


def note_access(
    *,
    kind: str,
    decision_id: str,
    caller: str | None,
    purpose: str | None,
    outcome: str,
) -> None:
    """Tell the current request's line about its audited action (no-op outside one).

    `caller` and `purpose` must be names the proxy resolved (a registered caller,
    a catalog purpose), never a raw header.
    """
    facts = _FACTS.get()
    if facts is not None:
        facts.kind, facts.decision_id, facts.outcome = kind, decision_id, outcome
        facts.caller, facts.purpose = caller, purpose


def new_request_id() -> str:
    """An id the proxy makes for a request: 32 lower-case hexadecimal digits."""
    return os.urandom(16).hex()


def refused_unread(request_id: str, code: str, status: int, seconds: float) -> None:
    """Log and count a request refused before it could be read, as `request_id`
    (one the proxy made: its `X-Request-Id`, if any, was never parsed).

    Nothing else of it is known for sure: its method is `OTHER`, its route
    `unmatched`.
    """
    _observe(UNMATCHED, "OTHER", status, code, seconds)
    _log.info(
        "request",
        request_id=request_id,
        method="OTHER",
        route=UNMATCHED,
        status=status,
        code=code,
        duration_ms=round(seconds * 1000, 3),
        decision_id=None,
        caller=None,
        purpose=None,
        kind=None,
        outcome=None,
    )


class RequestLog:
    """ASGI middleware: request id, canonical log line, request metrics."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = perf_counter()
        request_id = _request_id(scope["headers"])
        facts = _Facts(request_id)
        echoed = (b"x-request-id", request_id.encode())
        token = _FACTS.set(facts)
        context = structlog.contextvars.bind_contextvars(request_id=request_id)

        async def observed(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                facts.status = message["status"]
                if (b"content-type", _PROBLEM) in headers:
                    facts.problem = b""
                headers.append(echoed)
                message["headers"] = headers
            elif facts.problem is not None and message["type"] == "http.response.body":
                facts.problem += message.get("body", b"")
            await send(message)

        try:
            await self.app(scope, receive, observed)
        except Exception:
            if not facts.status:  # the outermost handler answers 500 internal_error
                facts.status, facts.code = 500, "internal_error"
            raise
        finally:
            structlog.contextvars.reset_contextvars(**context)
            _FACTS.reset(token)
            self._finish(scope, facts, perf_counter() - started)

    def _finish(self, scope: Scope, facts: _Facts, seconds: float) -> None:
        route = getattr(scope.get("route"), "path", UNMATCHED)
        method = scope["method"] if scope["method"] in _METHODS else "OTHER"
        code = facts.code or _problem_code(facts.problem)
        _observe(route, method, facts.status, code, seconds)
        _log.info(
            "request",
            request_id=facts.request_id,
            method=method,
            route=route,
            status=facts.status,
            code=code or None,
            duration_ms=round(seconds * 1000, 3),
            decision_id=facts.decision_id,
            caller=facts.caller,
            purpose=facts.purpose,
            kind=facts.kind,
            outcome=facts.outcome,
        )


def _request_id(headers: list[tuple[bytes, bytes]]) -> str:
    for name, value in headers:
        if name == b"x-request-id" and _WELL_FORMED_ID.fullmatch(value):
            return value.decode()
    return new_request_id()


def _observe(route: str, method: str, status: int, code: str, seconds: float) -> None:
    """Count the request; label children are bound once per distinct outcome."""
    key = (route, method, status, code)
    children = _bound.get(key)
    if children is None:
        children = _bound[key] = (
            REQUESTS.labels(route, method, str(status), code),
            REQUEST_SECONDS.labels(route, method),
        )
    children[0].inc()
    children[1].observe(seconds)


def _problem_code(body: bytes | None) -> str:
    """The `code` of a problem+json body, if it is one of ours (a lower-case word)."""
    if not body:
        return ""
    try:
        found: Any = orjson.loads(body).get("code")
    except (orjson.JSONDecodeError, AttributeError):
        return ""
    return found if isinstance(found, str) and _CODE.fullmatch(found) else ""

"""Refuse requests the proxy will not read before any handler sees them.

`BodyLimit`: a declared `Content-Length` over the limit is refused at once. A
body without one (chunked) is read up to the limit first and replayed to the
app, so a streamed body over the limit is refused the same way, with 413.

`SingleHeaders`: a header the access decision reads (the key, the purpose, the
recipient, the approval, the body's type) given twice is refused with 422: a
gateway in front may judge the request by one copy while the app reads the other.
"""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from governance.api.problems import problem


class BodyLimit:
    """ASGI middleware: 413 problem+json for bodies over `max_bytes`."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is not None:
            if not declared.isdigit() or int(declared) > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        if b"transfer-encoding" not in headers:
            await self.app(scope, receive, send)
            return
        buffered = await self._read_within_limit(receive)
        if buffered is None:
            await self._refuse(scope, receive, send)
            return
        await self.app(scope, _replay(buffered, receive), send)

    async def _read_within_limit(self, receive: Receive) -> list[Message] | None:
        messages, seen = [], 0
        while True:
            message = await receive()
            messages.append(message)
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                return None
            if message["type"] != "http.request" or not message.get("more_body"):
                return messages

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem(
            413,
            "payload_too_large",
            "Payload too large",
            f"request bodies are limited to {self.max_bytes} bytes",
        )
        await response(scope, receive, send)


class SingleHeaders:
    """ASGI middleware: 422 problem+json when a deciding header is given twice."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            seen: set[bytes] = set()
            for name, _ in scope["headers"]:
                if name in _SINGLE:
                    if name in seen:
                        response = problem(
                            422,
                            "invalid_request",
                            "Invalid request",
                            f"the {name.decode()} header may be given once",
                        )
                        await response(scope, receive, send)
                        return
                    seen.add(name)
        await self.app(scope, receive, send)


_SINGLE = frozenset(
    (b"authorization", b"x-purpose", b"x-recipient", b"x-approval-ref", b"content-type")
)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        return pending.pop(0) if pending else await receive()

    return replay

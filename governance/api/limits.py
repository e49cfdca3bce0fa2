"""Refuse requests the proxy will not read before any handler sees them.

A header the access decision reads (the key, the purpose, the recipient, the
approval, the body's type) given twice is refused with 422: a gateway in front
may judge the request by one copy while the app reads the other.

A declared `Content-Length` over the limit is refused at once (413). A body
without one (chunked) is read up to the limit first and replayed to the app, so
a streamed body over the limit is refused the same way.
"""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from governance.api.problems import problem


class RequestLimits:
    """ASGI middleware: 422 for a deciding header given twice, 413 for a body
    over `max_bytes`, both problem+json."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: dict[bytes, bytes] = {}
        for name, value in scope["headers"]:
            if name in _SINGLE and name in headers:
                await self._refuse_twice(name, scope, receive, send)
                return
            headers[name] = value
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

    @staticmethod
    async def _refuse_twice(
        name: bytes, scope: Scope, receive: Receive, send: Send
    ) -> None:
        response = problem(
            422,
            "invalid_request",
            "Invalid request",
            f"the {name.decode()} header may be given once",
        )
        await response(scope, receive, send)


_SINGLE = frozenset(
    (b"authorization", b"x-purpose", b"x-recipient", b"x-approval-ref", b"content-type")
)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        return pending.pop(0) if pending else await receive()

    return replay

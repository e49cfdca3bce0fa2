"""Refuse request bodies over the configured size before any handler reads them."""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from governance.api.problems import problem
from governance.errors import PayloadTooLarge


class BodyLimit:
    """ASGI middleware: 413 problem+json for bodies over `max_bytes`, declared or streamed."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (
            not declared.isdigit() or int(declared) > self.max_bytes
        ):
            await self._refuse(scope, receive, send)
            return
        await self.app(scope, self._counting(receive), send)

    def _counting(self, receive: Receive) -> Receive:
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise PayloadTooLarge(
                    f"request bodies are limited to {self.max_bytes} bytes"
                )
            return message

        return counted

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem(
            413,
            "payload_too_large",
            "Payload too large",
            f"request bodies are limited to {self.max_bytes} bytes",
        )
        await response(scope, receive, send)

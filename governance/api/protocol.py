"""The HTTP/1.1 protocol the proxy serves with: uvicorn's (httptools), refusing in problem+json.

uvicorn answers a request it cannot parse (a request line or header past the
parser's limits, a malformed `Content-Length`, bytes that are not HTTP) with
`400 Invalid HTTP request received.` in plain text, before the app runs. This
protocol sends the same refusal as every other one, RFC 9457 problem+json with
the code `bad_http_request`, and closes the connection as uvicorn does.

The refusal is a request like any other to logs and metrics too: it gets a
request id (echoed in `X-Request-Id`), one canonical JSON line and a count
(`request_log.refused_unread`). uvicorn's own plain-text warning about it,
which would break "logs are JSON lines" and say nothing more, is dropped.
"""

import logging
from time import perf_counter
from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from governance.api.problems import PROBLEM_JSON
from governance.observability.request_log import new_request_id, refused_unread

BAD_HTTP_REQUEST = "bad_http_request"
_BODY = orjson.dumps(
    {
        "type": f"https://govproxy.example/problems/{BAD_HTTP_REQUEST}",
        "title": "Bad HTTP request",
        "status": 400,
        "code": BAD_HTTP_REQUEST,
        "detail": "the request is not HTTP/1.1 the server can read",
    }
)


_UVICORN_WARNING = "Invalid HTTP request received."


def _not_uvicorns_warning(record: logging.LogRecord) -> bool:
    """False for uvicorn's warning of a request it could not parse (logged here)."""
    return record.msg != _UVICORN_WARNING


class ProblemHttpProtocol(HttpToolsProtocol):
    """`HttpToolsProtocol` whose parse failures are problem+json, logged and counted."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Here rather than at import: uvicorn configures its loggers after that,
        # in each worker it spawns.
        if _not_uvicorns_warning not in self.logger.filters:
            self.logger.addFilter(_not_uvicorns_warning)

    def send_400_response(self, msg: str) -> None:  # noqa: ARG002 - uvicorn's signature
        """Refuse an unparseable request (`msg` is uvicorn's text, not sent).

        Its line's duration is the refusal's own: when its bytes began to
        arrive is not known here.
        """
        started = perf_counter()
        request_id = new_request_id()
        head = [STATUS_LINE[400]]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head += [
            b"content-type: " + PROBLEM_JSON.encode() + b"\r\n",
            b"content-length: " + str(len(_BODY)).encode() + b"\r\n",
            b"x-request-id: " + request_id.encode() + b"\r\n",
            b"connection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + _BODY)
        self.transport.close()
        refused_unread(request_id, BAD_HTTP_REQUEST, 400, perf_counter() - started)

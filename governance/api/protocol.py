"""The HTTP/1.1 protocol the proxy serves with: uvicorn's (httptools), refusing in problem+json.

uvicorn answers a request it cannot parse (a request line or header past the
parser's limits, a malformed `Content-Length`, bytes that are not HTTP) with
`400 Invalid HTTP request received.` in plain text, before the app runs. This
protocol sends the same refusal as every other one, RFC 9457 problem+json with
the code `bad_http_request`, and closes the connection as uvicorn does.
"""

import orjson
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from governance.api.problems import PROBLEM_JSON

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


class ProblemHttpProtocol(HttpToolsProtocol):
    """`HttpToolsProtocol` whose parse failures are problem+json."""

    def send_400_response(self, msg: str) -> None:  # noqa: ARG002 - uvicorn's signature
        """Refuse an unparseable request (`msg` is uvicorn's text, not sent)."""
        head = [STATUS_LINE[400]]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head += [
            b"content-type: " + PROBLEM_JSON.encode() + b"\r\n",
            b"content-length: " + str(len(_BODY)).encode() + b"\r\n",
            b"connection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + _BODY)
        self.transport.close()

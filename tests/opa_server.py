"""A stand-in OPA sidecar: OPA's Data API over the real OPA engine, and its faults.

No OPA binary can be installed here, so tests talk to this server instead. It
loads a bundle directory the way `adapters/rego/bundle.py` does (every `.rego`
module but the tests, every `data.json` mounted at its directory's path) into
the real OPA engine of `opa-golib-python-bindings` and serves, on 127.0.0.1:

- `POST /v1/data/{path}` with `{"input": ...}`: 200 `{"result": ...}`, or 200 `{}`
  when the document is undefined; 400 for a body that is not `{"input": ...}`;
  500 `{"code": "internal_error"}` when evaluation fails (the engine always runs
  with strict built-in errors, as `?strict-builtin-errors=true` asks of OPA).
- `GET /health`: 200 `{}`.

`mode` makes it a faulty sidecar (see `Mode`); a sidecar that is down is a port
nobody listens on (`closed_port_url`).

The engine comes from a test-only wheel that `scripts/_venv.sh` installs with
`--ignore-requires-python`. Without it `require_opa_engine()` skips the test, or
fails it when `GOV_REQUIRE_SERVICES=1` (read at import, as `pg.py` does).
"""

import json
import os
import socket
import threading
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from adapters.rego.bundle import load_bundle

REQUIRE_SERVICES = os.environ.get("GOV_REQUIRE_SERVICES") == "1"
DECISION_PATH = "/v1/data/governance/access/decision"


class Mode(StrEnum):
    """How the server answers a data request."""

    OK = "ok"  # the real engine's answer
    SLOW = "slow"  # the real answer, after `slow_s` seconds
    NOT_JSON = "not_json"  # 200, JSON content type, a body that does not parse
    HTML = "html"  # 200, an HTML error page (a proxy in the way)
    NOT_OBJECT = "not_object"  # 200 [...]: JSON, but not OPA's response object
    WRONG_SHAPE = "wrong_shape"  # 200 {"result": [...]}: a result that is no decision
    NON_BOOLEAN_ALLOW = "non_boolean_allow"  # the real decision with "allow": "true"
    UNDEFINED = "undefined"  # 200 {}: no bundle loaded, or a wrong path
    SERVER_ERROR = "server_error"  # 500, as OPA answers an evaluation error


def opa_engine_missing() -> str | None:
    """Why the real OPA engine cannot be used here, or None when it loads."""
    try:
        from opa_bindings import OpaEngine

        OpaEngine().close()
    except (ImportError, OSError) as exc:
        return (
            f"the real OPA engine (opa-golib-python-bindings) cannot be loaded "
            f"({type(exc).__name__}: {exc}); scripts/_venv.sh dev installs it"
        )
    return None


def require_opa_engine() -> None:
    """Skip without the OPA engine; fail instead when GOV_REQUIRE_SERVICES=1."""
    reason = opa_engine_missing()
    if reason is None:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason}; GOV_REQUIRE_SERVICES=1 makes this a failure")
    pytest.skip(reason)


def opa_engine(bundle_dir: Path, *, include_tests: bool = False) -> Any:
    """A real OPA engine holding the bundle under `bundle_dir` (its tests if asked)."""
    from opa_bindings import OpaEngine

    bundle = load_bundle(bundle_dir, include_tests=include_tests)
    engine = OpaEngine()
    for name, text in bundle.policies:
        engine.add_policy(name, text)
    for document in bundle.data:
        engine.add_data(document)
    return engine


def closed_port_url() -> str:
    """The URL of a local port nobody listens on: a sidecar that is down."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class OpaTestServer:
    """OPA's Data API on a free local port, in a thread; use as a context manager."""

    def __init__(self, bundle_dir: Path, *, slow_s: float = 2.0) -> None:
        self.engine = opa_engine(bundle_dir)
        self.mode = Mode.OK
        self.slow_s = slow_s
        self.paths: list[str] = []  # path and query of every data request, in order
        self._stopping = threading.Event()
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._http.daemon_threads = True
        self._http.block_on_close = False
        self._thread = threading.Thread(
            target=self._http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        """Base URL, as `opa_url` takes it."""
        host, port = self._http.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> "OpaTestServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self._http.shutdown()
        self._http.server_close()
        self._thread.join()
        self.engine.close()

    def answer(self, path: str, body: bytes) -> tuple[int, str, bytes]:
        """(status, content type, body) of one data request in the current mode."""
        from opa_bindings import OpaError, OpaUndefinedError

        self.paths.append(path)
        mode = self.mode
        if mode is Mode.SLOW:
            self._stopping.wait(self.slow_s)
        if mode is Mode.NOT_JSON:
            return 200, "application/json", b'{"result": {"allow": tr'
        if mode is Mode.HTML:
            return 200, "text/html", b"<html><body>502 Bad Gateway</body></html>"
        if mode is Mode.NOT_OBJECT:
            return _json(200, [{"allow": True}])
        if mode is Mode.UNDEFINED:
            return _json(200, {})
        if mode is Mode.SERVER_ERROR:
            return _json(500, {"code": "internal_error", "message": "simulated"})
        try:
            request = json.loads(body)
            policy_input = request["input"]
        except (ValueError, TypeError, KeyError):
            return _json(400, {"code": "invalid_parameter", "message": "bad body"})
        document = urlsplit(path).path.removeprefix("/v1/data/").replace("/", ".")
        try:
            result = self.engine.eval_document(document, policy_input)
        except OpaUndefinedError:
            return _json(200, {})
        except OpaError as exc:
            return _json(500, {"code": "internal_error", "message": exc.message})
        if mode is Mode.WRONG_SHAPE:
            result = [result]
        if mode is Mode.NON_BOOLEAN_ALLOW:
            result = {**result, "allow": "true"}
        return _json(200, {"result": result})


def _json(status: int, document: Any) -> tuple[int, str, bytes]:
    return status, "application/json", json.dumps(document).encode()


def _handler(server: OpaTestServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as OPA answers

        def setup(self) -> None:
            super().setup()
            # Headers and body go out as two writes: without this, Nagle holds the
            # body until the client's delayed ACK (~40 ms per request).
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def do_GET(self) -> None:
            if self.path.startswith("/health"):
                self._send(*_json(200, {}))
            else:
                self._send(*_json(404, {"code": "resource_not_found"}))

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if not self.path.startswith("/v1/data/"):
                self._send(*_json(404, {"code": "resource_not_found"}))
                return
            self._send(*server.answer(self.path, body))

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test): nothing to answer

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: tests read answers, not access logs."""

    return Handler

"""The load bench's own tools: the wrk script it generates and its profile summary.

The bench's numbers are only as good as these: wrk must send every request of
the rotation as written, a paced run must offer the rate it claims and say when
it could not, and the profile shares must add up.
"""

import importlib.util
import json
import shutil
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


def _load(name: str) -> ModuleType:
    """A bench module by file (bench/ is scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


wrk = _load("_wrk")
profile = _load("_profile")

needs_wrk = pytest.mark.skipif(
    shutil.which("wrk") is None, reason="wrk is not installed (apt-get install wrk)"
)


class _Recorder(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as wrk expects
    disable_nagle_algorithm = True  # headers and body go out at once, not 40 ms apart
    seen: list[tuple[str, str, dict[str, str], bytes]]
    pause_s = 0.0

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(length) if length else b""
        self.seen.append((self.command, self.path, dict(self.headers.items()), body))
        time.sleep(self.pause_s)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    do_GET = do_POST = _answer

    def log_message(self, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[tuple[str, type[_Recorder]]]:
    """An HTTP/1.1 server recording every request; `pause_s` per answer if parametrised."""
    handler = type(
        "Handler", (_Recorder,), {"seen": [], "pause_s": getattr(request, "param", 0.0)}
    )
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", handler
    httpd.shutdown()
    httpd.server_close()


@needs_wrk
def test_rotation_sends_every_request_as_written(
    server: tuple[str, type[_Recorder]], tmp_path: Path
) -> None:
    """Each request of the rotation reaches the server with its method, path, headers and body."""
    url, handler = server
    body = json.dumps({"where": {"tags_any": ["高消费"]}}, ensure_ascii=False)
    requests = [
        wrk.Request("GET", f"/records/C{i:06d}", {"X-Purpose": "marketing_push"})
        for i in range(5)
    ] + [wrk.Request("POST", "/query", {"X-Note": 'say "中" \\ ok'}, body)]
    script = tmp_path / "run.lua"
    script.write_text(wrk.lua_script(requests))

    result = wrk.run(url, script, seconds=1, connections=2)

    seen = {(m, p) for m, p, _, _ in handler.seen}
    assert seen == {(r.method, r.path) for r in requests}
    post = next(s for s in handler.seen if s[0] == "POST")
    assert post[2]["X-Note"].encode("latin-1").decode() == 'say "中" \\ ok'
    assert post[3].decode() == body
    assert result.errors == 0
    assert 0 < result.requests <= len(handler.seen)


@needs_wrk
def test_paced_run_offers_the_rate_it_claims(
    server: tuple[str, type[_Recorder]], tmp_path: Path
) -> None:
    """With connections to spare, a paced run completes its rate and sends (almost) nothing late."""
    url, _ = server
    script = tmp_path / "run.lua"
    script.write_text(wrk.lua_script([wrk.Request("GET", "/")], rate=200))

    result = wrk.run(url, script, seconds=2, connections=32)

    assert 170 <= result.rate <= 230
    assert result.late <= result.requests // 50  # a busy machine may stall the server


@needs_wrk
@pytest.mark.parametrize("server", [0.05], indirect=True)
def test_paced_run_counts_requests_it_could_not_send_on_time(
    server: tuple[str, type[_Recorder]], tmp_path: Path
) -> None:
    """When every connection is busy, requests leave after their slot and are counted late."""
    url, _ = server
    script = tmp_path / "run.lua"
    script.write_text(wrk.lua_script([wrk.Request("GET", "/")], rate=100))

    result = wrk.run(url, script, seconds=1, connections=1)

    assert result.rate < 30  # one connection, 50 ms an answer
    assert result.late > 0
    assert result.max_lag_ms > 100


def test_profile_summary_shares_self_and_inclusive_time() -> None:
    """Self time goes to the innermost frame, inclusive time once per stack, by component too."""
    site = "/v/lib/python3.11/site-packages"
    lines = [
        f"main (/w/governance/cli/main.py);fetch (/w/adapters/sources/sql.py);"
        f"execute ({site}/asyncpg/connection.py) 3\n",
        "main (/w/governance/cli/main.py);main (/w/governance/cli/main.py);"
        "dumps (/usr/lib/python3.11/json/__init__.py) 1\n",
        "garbage line\n",
    ]

    text = profile.summary(profile.parse(lines))

    assert "75.0%  asyncpg\n" in text
    assert "25.0%  stdlib: json\n" in text
    assert "75.0%  execute (asyncpg/connection.py)" in text
    assert "100.0%  main (governance/cli/main.py)" in text  # once per stack, not twice
    assert "75.0%  fetch (adapters/sources/sql.py)" in text

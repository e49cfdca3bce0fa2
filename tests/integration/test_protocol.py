"""Requests the HTTP parser refuses are answered in problem+json, by a real server.

`govproxy serve --workers 2` (the protocol class must reach spawned workers too)
gets bytes uvicorn cannot parse as HTTP/1.1, over a raw socket; each answer is
a 400 problem+json `bad_http_request`, not uvicorn's plain text.
"""

import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import orjson
import pytest
from served import serving

REQUESTS = {
    "request-line-past-limit": b"GET /v1/datasets/customers/records/"
    + b"C" * 70_000
    + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    "bad-content-length": b"POST /v1/datasets/customers/query HTTP/1.1\r\nHost: x\r\n"
    b"Content-Length: abc\r\n\r\n{}",
    "not-http": b"HELLO THERE\r\n\r\n",
}


@pytest.fixture(scope="module")
def address(
    demo_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, int]]:
    root = tmp_path_factory.mktemp("protocol")
    folder = root / "demo"
    shutil.copytree(demo_template, folder)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOV_")}
    with serving(folder, env, root / "serve.log", workers=2) as (_, base):
        url = urlsplit(base)
        yield url.hostname or "127.0.0.1", url.port or 80


def exchange(address: tuple[str, int], request: bytes) -> bytes:
    """Send `request` on a fresh connection; everything until the server closes."""
    with socket.create_connection(address, timeout=10) as conn:
        conn.sendall(request)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize("name", list(REQUESTS))
def test_an_unparseable_request_gets_a_problem(address, name):
    """400, application/problem+json, code bad_http_request, connection closed."""
    head, _, body = exchange(address, REQUESTS[name]).partition(b"\r\n\r\n")
    status, *headers = head.decode("latin-1").split("\r\n")
    fields = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in headers)}

    assert status.startswith("HTTP/1.1 400 ")
    assert fields["content-type"] == "application/problem+json"
    assert fields["connection"] == "close"
    assert int(fields["content-length"]) == len(body)
    assert orjson.loads(body)["code"] == "bad_http_request"

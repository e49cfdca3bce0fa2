"""`govproxy serve` as a real process for tests: a free port, start, wait until it answers.

Shared by the tests that drive the proxy over TCP (crash safety, workers
sharing a budget). The process gets exactly the environment given, so a test
decides which `GOV_*` settings it sees.
"""

import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

STARTUP_S = 30.0


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(
    folder: Path, env: dict[str, str], log: Path, extra: Sequence[str] = ()
) -> Iterator[tuple[Any, str]]:
    """`govproxy serve [extra]` on the deployment in `folder`; yields the process and its URL."""
    port = free_port()
    with log.open("ab") as out:
        proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            [sys.executable, "-m", "governance", "--config", str(folder / "govproxy.yaml"),
             "serve", "--host", "127.0.0.1", "--port", str(port), *extra],
            stdout=out, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, proc, log)
        yield proc, base
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=15)


def wait_until_up(base: str, proc: Any, log: Path) -> None:
    """Poll /healthz until the server answers; fail with its output if it dies."""
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(
                f"govproxy serve exited: {log.read_text(errors='replace')[-2000:]}"
            )
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    pytest.fail(f"govproxy serve did not answer within {STARTUP_S:.0f} s")

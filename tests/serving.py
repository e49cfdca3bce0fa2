"""`govproxy serve` as a real process over a demo deployment, for tests that need one."""

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

STARTUP_S = 60.0  # generous: worker processes import the whole app on a busy CI box


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(
    folder: Path, env: dict[str, str], log: Path, *, workers: int = 1
) -> Iterator[tuple[Any, str]]:
    """`govproxy serve` on the deployment in `folder`; yields the process and its URL.

    Its stdout and stderr go to `log`. On exit it gets SIGTERM, and a shutdown
    that takes over 15 s fails the test.
    """
    port = free_port()
    with log.open("ab") as out:
        proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            [sys.executable, "-m", "governance", "--config", str(folder / "govproxy.yaml"),
             "serve", "--host", "127.0.0.1", "--port", str(port),
             "--workers", str(workers)],
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


def keys_of(folder: Path) -> dict[str, str]:
    """Caller name -> bearer key of the demo callers."""
    creds = json.loads((folder / "demo-credentials.json").read_text(encoding="utf-8"))
    return {c["name"]: c["key"] for c in creds}

"""Loopback helpers for tests that start real servers."""

import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest


def free_port() -> int:
    """A loopback port nobody listens on right now (it may be taken a moment later)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until_up(
    base: str, proc: subprocess.Popen[bytes], log: Path, *, timeout_s: float = 45.0
) -> None:
    """Poll `base`/healthz until the server answers; fail with its output if it dies."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = log.read_text(errors="replace")[-2000:]
            pytest.fail(f"the server exited with {proc.returncode}: {out}")
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=1):  # noqa: S310
                return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"the server did not answer within {timeout_s:.0f} s")

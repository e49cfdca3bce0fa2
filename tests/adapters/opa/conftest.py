"""Fixtures of the OPA-sidecar tests: a running stand-in sidecar over a bundle."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from opa_server import OpaTestServer, require_opa_engine

POLICIES = Path(__file__).resolve().parents[3] / "policies"


@pytest.fixture
def sidecar() -> Iterator[OpaTestServer]:
    """A sidecar serving the shipped bundle with the real OPA engine, answering OK."""
    require_opa_engine()
    with OpaTestServer(POLICIES) as server:
        yield server

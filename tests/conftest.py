"""Shared fixtures: a small demo deployment per test, an app client, caller keys.

Each test gets its own copy of a demo directory (customer store, catalog,
settings, keys, governance store with callers and consents) built once per
session, so tests can change consent or tamper with the audit trail freely.
"""

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings

from governance.app import create_app
from governance.demo.setup import prepare_demo
from governance.settings import Settings, load_settings

settings.register_profile(
    "gov", suppress_health_check=[HealthCheck.too_slow], deadline=400, max_examples=100
)
settings.load_profile("gov")

DEMO_CUSTOMERS = 400
DEMO_SEED = 7


@pytest.fixture(autouse=True)
def _clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """No GOV_* variable of the developer's shell leaks into a test."""
    for key in list(os.environ):
        if key.startswith("GOV_"):
            monkeypatch.delenv(key)


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo deployment built once per session; copy it before changing it."""
    path = tmp_path_factory.mktemp("demo-template")
    prepare_demo(
        path, seed=DEMO_SEED, customers=DEMO_CUSTOMERS, port=8080, host="127.0.0.1"
    )
    return path


@pytest.fixture
def demo_dir(demo_template: Path, tmp_path: Path) -> Path:
    """This test's own copy of the demo deployment."""
    target = tmp_path / "demo"
    shutil.copytree(demo_template, target)
    return target


@pytest.fixture
def demo_settings(demo_dir: Path) -> Settings:
    """Settings of this test's demo deployment."""
    return load_settings(demo_dir / "govproxy.yaml", env="test")


@pytest.fixture
def client(demo_settings: Settings) -> Iterator[TestClient]:
    """A client of a running proxy over this test's demo deployment."""
    with TestClient(create_app(demo_settings), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def keys(demo_dir: Path) -> dict[str, str]:
    """Caller name -> bearer key of the demo callers."""
    creds = json.loads((demo_dir / "demo-credentials.json").read_text(encoding="utf-8"))
    return {c["name"]: c["key"] for c in creds}

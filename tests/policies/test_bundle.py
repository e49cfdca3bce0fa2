"""The shipped bundle's Rego tests, one pytest item per `test_` rule.

They run on `adapters.rego.testing.RegoSuite`, the runner behind
`govproxy policy test`: a rule passes only if it evaluates to `true`. Item ids
are `package.rule`. A bundle that does not load fails collection, naming the
file, line and fault.
"""

import json
from pathlib import Path
from typing import Any

import pytest

from adapters.rego.bundle import load_bundle
from adapters.rego.testing import RegoSuite, RegoTest, Verdict

POLICIES = Path(__file__).resolve().parents[2] / "policies"
SUITE = RegoSuite(POLICIES)


@pytest.mark.parametrize(
    "test", SUITE.tests, ids=[".".join(t.path) for t in SUITE.tests]
)
def test_rego(test: RegoTest) -> None:
    """Each Rego `test_` rule evaluates to true."""
    result = SUITE.run(test)

    assert result.verdict is Verdict.PASS, f"{test.file}:{test.line}: {result.detail}"


def test_runner_finds_the_rego_tests() -> None:
    """Discovery sees the suite, so an empty parametrisation cannot pass silently."""
    assert len(SUITE.tests) >= 15


@pytest.fixture(scope="module")
def engine() -> Any:
    return load_bundle(POLICIES).engine()


def test_data_json_is_mounted_at_its_directory_path(engine: Any) -> None:
    """`governance/obligations/data.json` becomes `data.governance.obligations`."""
    result = engine.eval_query("data.governance.obligations.default")
    default = result["result"][0]["expressions"][0]["value"]

    assert default["contact.phone"] == "mask"


def test_every_package_sits_under_a_manifest_root(engine: Any) -> None:
    """Each package starts with a root from `.manifest`, as OPA requires of bundles."""
    manifest = json.loads((POLICIES / ".manifest").read_text(encoding="utf-8"))
    roots = tuple(f"data.{root}" for root in manifest["roots"])
    packages = engine.get_packages()

    assert packages
    assert all(package.startswith(roots) for package in packages)

"""Run the Rego tests of the policy bundle on the embedded engine, as `opa test` would.

Loads every `*.rego` under `policies/` and every `data.json` (mounted at the data path
of its directory), then evaluates each `test_` rule of each `*_test.rego` as
`data.<package>.<rule>`. A rule passes only if it is `true`; undefined (None), `false`
or any other value fails. One pytest case per Rego test, with id `package.rule`.
"""

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import regorus

POLICIES = Path(__file__).resolve().parents[2] / "policies"

_PACKAGE = re.compile(r"^package\s+([\w.]+)", re.MULTILINE)
_TEST_RULE = re.compile(r"^(test_\w+)", re.MULTILINE)


@dataclass(frozen=True)
class RegoTest:
    """One `test_` rule of a test package."""

    package: str
    rule: str

    @property
    def id(self) -> str:
        return f"{self.package}.{self.rule}"


def mount(path: Path, root: Path) -> dict[str, Any]:
    """Wrap a `data.json` in the data path of its directory below `root` (OPA)."""
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    for part in reversed(path.parent.relative_to(root).parts):
        document = {part: document}
    return document


def load_bundle(root: Path) -> Any:
    """Build a `regorus.Engine` holding every policy and data document under `root`."""
    engine = regorus.Engine()
    for path in sorted(root.rglob("*.rego")):
        engine.add_policy(str(path.relative_to(root)), path.read_text(encoding="utf-8"))
    for path in sorted(root.rglob("data.json")):
        engine.add_data_json(json.dumps(mount(path, root)))
    return engine


def discover(root: Path) -> list[RegoTest]:
    """List the `test_` rules of every `*_test.rego` under `root`, in file order."""
    found: dict[RegoTest, None] = {}
    for path in sorted(root.rglob("*_test.rego")):
        text = path.read_text(encoding="utf-8")
        package = _PACKAGE.search(text)
        assert package, f"{path} declares no package"
        for rule in _TEST_RULE.findall(text):
            found[RegoTest(package.group(1), rule)] = None
    return list(found)


def passes(engine: Any, test: RegoTest) -> bool:
    """Whether the rule evaluates to exactly `true`."""
    return engine.eval_rule(f"data.{test.id}") is True


def failures(root: Path) -> list[str]:
    """Ids of the tests under `root` that do not pass."""
    engine = load_bundle(root)
    return [test.id for test in discover(root) if not passes(engine, test)]


TESTS = discover(POLICIES)


@pytest.fixture(scope="module")
def engine() -> Any:
    return load_bundle(POLICIES)


@pytest.mark.parametrize("test", TESTS, ids=[test.id for test in TESTS])
def test_rego(engine: Any, test: RegoTest) -> None:
    """Each Rego `test_` rule evaluates to true."""
    assert passes(engine, test)


def test_runner_finds_the_rego_tests() -> None:
    """Discovery sees the suite, so an empty parametrisation cannot pass silently."""
    assert len(TESTS) >= 15


def test_runner_reports_a_broken_bundle(tmp_path: Path) -> None:
    """A false and an undefined test rule in a copy of the bundle both fail by name."""
    broken = tmp_path / "policies"
    shutil.copytree(POLICIES, broken)
    suite = broken / "governance" / "access" / "access_test.rego"
    with suite.open("a", encoding="utf-8") as file:
        file.write(
            "\ntest_broken_value := false\n"
            "\ntest_broken_assertion if access.decision.allow with input as {}\n"
        )

    assert failures(broken) == [
        "governance.access_test.test_broken_value",
        "governance.access_test.test_broken_assertion",
    ]


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

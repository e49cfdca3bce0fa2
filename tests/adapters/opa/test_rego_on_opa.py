"""The bundle's Rego tests pass on the real OPA engine too, not only on regorus.

`tests/policies/test_bundle.py` runs every `test_` rule on regorus, the engine the
proxy embeds; the same rules must hold where a deployment decides with an OPA
sidecar. A rule passes only if it is exactly `true` (undefined fails).
"""

import re
from pathlib import Path
from typing import Any

import pytest
from opa_server import opa_engine, require_opa_engine

POLICIES = Path(__file__).resolve().parents[3] / "policies"
_PACKAGE = re.compile(r"^package\s+([\w.]+)", re.MULTILINE)
_TEST_RULE = re.compile(r"^(test_\w+)", re.MULTILINE)


def rego_tests(root: Path) -> list[str]:
    """`package.rule` of every `test_` rule of every `*_test.rego` under `root`."""
    found: dict[str, None] = {}
    for path in sorted(root.rglob("*_test.rego")):
        text = path.read_text(encoding="utf-8")
        package = _PACKAGE.search(text)
        assert package, f"{path} declares no package"
        for rule in _TEST_RULE.findall(text):
            found[f"{package.group(1)}.{rule}"] = None
    return list(found)


TESTS = rego_tests(POLICIES)


@pytest.fixture(scope="module")
def engine() -> Any:
    """The real OPA engine holding the bundle and its tests."""
    require_opa_engine()
    opa = opa_engine(POLICIES, include_tests=True)
    yield opa
    opa.close()


def passes(engine: Any, test: str) -> bool:
    """Whether the rule evaluates to exactly `true` on OPA."""
    from opa_bindings import OpaError

    try:
        return engine.eval_document(test) is True
    except OpaError:  # undefined, or an evaluation error
        return False


@pytest.mark.parametrize("test", TESTS)
def test_rego_on_opa(engine, test):
    """Each Rego `test_` rule evaluates to true on OPA."""
    assert passes(engine, test)


def test_finds_the_rego_tests():
    """Discovery sees the suite, so an empty parametrisation cannot pass silently."""
    assert len(TESTS) >= 15


def test_a_failing_rule_fails_on_opa(engine, tmp_path):
    """A false and an undefined rule are both reported as failures."""
    suite = tmp_path / "x_test.rego"
    suite.write_text(
        "package governance.x_test\n\nimport rego.v1\n\n"
        "test_false := false\n\ntest_undefined if input.nothing\n",
        encoding="utf-8",
    )
    engine.add_policy("x_test.rego", suite.read_text(encoding="utf-8"))

    assert not passes(engine, "governance.x_test.test_false")
    assert not passes(engine, "governance.x_test.test_undefined")

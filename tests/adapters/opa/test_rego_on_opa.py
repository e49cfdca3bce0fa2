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


@pytest.fixture(scope="module")
def packages(engine: Any) -> dict[str, Any]:
    """Each test package's document, evaluated once (a query per rule is slow on OPA)."""
    names = {test.rpartition(".")[0] for test in TESTS}
    return {name: _document(engine, name) for name in names}


def _document(engine: Any, path: str) -> Any:
    from opa_bindings import OpaError

    try:
        return engine.eval_document(path)
    except OpaError:  # undefined, or an evaluation error
        return None


def passes(engine: Any, test: str, packages: dict[str, Any] | None = None) -> bool:
    """Whether the rule evaluates to exactly `true` on OPA.

    Read from its package's document when that evaluated; else (a rule raised,
    failing the whole package) the rule alone is evaluated.
    """
    package, _, rule = test.rpartition(".")
    document = (packages or {}).get(package)
    if isinstance(document, dict):
        return document.get(rule) is True
    return _document(engine, test) is True


@pytest.mark.parametrize("test", TESTS)
def test_rego_on_opa(engine, packages, test):
    """Each Rego `test_` rule evaluates to true on OPA."""
    assert passes(engine, test, packages)


def test_finds_the_rego_tests():
    """Discovery sees the suite, so an empty parametrisation cannot pass silently."""
    assert len(TESTS) >= 15


def test_a_failing_rule_fails_on_opa(tmp_path):
    """A false, an undefined and an erroring rule fail; the package's others still pass."""
    require_opa_engine()
    (tmp_path / "x_test.rego").write_text(
        "package governance.x_test\n\nimport rego.v1\n\n"
        "test_true := true\n\ntest_false := false\n\n"
        "test_undefined if input.nothing\n\n"
        'test_error if to_number("not a number") == 1\n',
        encoding="utf-8",
    )
    engine = opa_engine(tmp_path, include_tests=True)
    package = {"governance.x_test": _document(engine, "governance.x_test")}

    results = {
        rule: passes(engine, f"governance.x_test.{rule}", package)
        for rule in ("test_true", "test_false", "test_undefined", "test_error")
    }
    engine.close()

    assert results == {
        "test_true": True,
        "test_false": False,
        "test_undefined": False,
        "test_error": False,
    }

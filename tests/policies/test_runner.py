"""The Rego test runner (`adapters.rego.testing`) on small bundles in tmp_path."""

from pathlib import Path

import pytest
from rego_bundles import ACCESS, ACCESS_TEST, ACCESS_TEST_REGO, write_bundle

from adapters.rego.testing import BundleNotLoadable, RegoSuite, Verdict

OUTCOMES = (
    ACCESS_TEST_REGO
    + """
test_false := false

test_undefined if input.never

test_a_number := 3

test_conflict if data.governance.access_test.twice

twice := 1 if true

twice := 2 if true

test_helper(x) if x
"""
)


def suite(tmp_path: Path, files: dict[str, str | None] | None = None) -> RegoSuite:
    return RegoSuite(write_bundle(tmp_path / "bundle", files), coverage=True)


class TestVerdicts:
    """Only `true` passes; false, undefined and other values fail; errors are errors."""

    @pytest.fixture
    def results(self, tmp_path):
        report = suite(tmp_path, {ACCESS_TEST: OUTCOMES}).run_all()
        return {r.test.path[-1]: r for r in report.results}

    @pytest.mark.parametrize(
        ("name", "verdict", "detail"),
        [
            ("test_allows_a_declared_purpose", Verdict.PASS, ""),
            ("test_false", Verdict.FAIL, "false"),
            ("test_undefined", Verdict.FAIL, "undefined"),
            ("test_a_number", Verdict.FAIL, "3, not true"),
        ],
        ids=["true", "false", "undefined", "number"],
    )
    def test_when_a_test_evaluates_then_only_true_passes(
        self, results, name, verdict, detail
    ):
        """Each outcome gets its verdict and says why it did not pass."""
        assert (results[name].verdict, results[name].detail) == (verdict, detail)

    def test_when_a_test_raises_then_it_is_an_error_naming_the_rule(self, results):
        """A conflict while evaluating is an ERROR with the file and line of the fault."""
        result = results["test_conflict"]

        assert result.verdict is Verdict.ERROR
        assert result.detail.startswith("governance/access/access_test.rego:")
        assert "conflict" in result.detail

    def test_functions_named_test_are_not_tests(self, results):
        """`test_helper(x)` is a function, so it is not run."""
        assert "test_helper" not in results

    def test_report_is_not_ok_when_any_test_does_not_pass(self, tmp_path):
        """Four of five tests fail or error: the report counts one pass and is not ok."""
        report = suite(tmp_path, {ACCESS_TEST: OUTCOMES}).run_all()

        assert (report.passed, len(report.results), report.ok) == (1, 5, False)


def test_every_test_rule_is_found_once_with_its_line(tmp_path):
    """A test rule with two definitions is one test, at its first definition."""
    tests = suite(
        tmp_path, {ACCESS_TEST: ACCESS_TEST_REGO + "\ntest_x if true\n\ntest_x if 1\n"}
    ).tests

    assert [(t.name, t.line) for t in tests] == [
        ("data.governance.access_test.test_allows_a_declared_purpose", 7),
        ("data.governance.access_test.test_x", 15),
    ]


class TestCoverage:
    """Coverage is reported per policy module, never for test modules."""

    def test_lines_no_test_reaches_are_listed(self, tmp_path):
        """The one test requests no field, so the obligation rule is never evaluated."""
        report = suite(tmp_path).run_all()

        (access,) = report.coverage
        assert access.file == ACCESS
        assert 0 < access.percent < 100
        assert 20 in access.not_covered  # the by_purpose lookup of `_obligation`
        assert 7 in access.covered  # the decision object

    def test_a_module_no_test_evaluates_has_zero_coverage(self, tmp_path):
        """A policy module that no test touches is at 0%, its rules uncovered."""
        extra = "package governance.extra\n\nimport rego.v1\n\nflag if input.x\n"
        report = suite(tmp_path, {"governance/extra.rego": extra}).run_all()

        extra_cov = next(
            c for c in report.coverage if c.file == "governance/extra.rego"
        )
        assert (extra_cov.percent, extra_cov.not_covered) == (0.0, (5,))


class TestUnloadableBundle:
    """A bundle that does not load raises `BundleNotLoadable` naming file and line."""

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            (
                "package governance.access\n\nallow if {\n\tinput.a ==\n}\n",
                ":5: syntax_error",
            ),
            (
                "package governance.access\n\nallow if {\n\ty > 1\n}\n",
                ":4: unsafe_variable",
            ),
        ],
        ids=["syntax-error", "unsafe-variable"],
    )
    def test_when_a_module_is_broken_then_loading_names_it(
        self, tmp_path, text, expected
    ):
        """The error message names the file, the line and the kind of fault."""
        with pytest.raises(BundleNotLoadable) as caught:
            suite(tmp_path, {ACCESS: text})

        assert f"{ACCESS}{expected}" in str(caught.value)
        assert "Stack backtrace" not in str(caught.value)

    def test_when_a_data_document_is_not_json_then_loading_names_it(self, tmp_path):
        """Invalid JSON in a data document stops the run with its file and line."""
        with pytest.raises(BundleNotLoadable, match=r"data\.json:2: invalid_json"):
            suite(tmp_path, {"governance/obligations/data.json": "{\n  oops\n}"})

"""`govproxy policy test|check|explain`, run in-process as a user would run them."""

import re
import shutil
from importlib import resources
from pathlib import Path

import pytest
from rego_bundles import (
    ACCESS,
    ACCESS_REGO,
    ACCESS_TEST,
    ACCESS_TEST_REGO,
    OBLIGATIONS,
    write_bundle,
)

from adapters.rego.bundle import load_bundle
from governance.cli.main import main

POLICIES = Path(__file__).resolve().parents[2] / "policies"
BROKEN = "governance/broken.rego"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Exit status, stdout and stderr of one command line."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def demo_catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("catalog") / "catalog.yaml"
    path.write_text(
        resources.files("governance.demo").joinpath("catalog.yaml").read_text("utf-8"),
        encoding="utf-8",
    )
    return path


def check_args(bundle: Path, catalog: Path) -> list[str]:
    return ["policy", "check", "--bundle", str(bundle), "--catalog", str(catalog)]


def exempt_minors(root: Path) -> Path:
    """The reviewer's repro: both minor rules hold only for a caller that does not
    exist. It parses and lints clean; its own tests fail."""
    path = root / ACCESS
    text = path.read_text("utf-8")
    for head in ('"subject_is_minor" if {\n', '"guardian_consent_required" if {\n'):
        assert text.count(head) == 1, f"access.rego changed: {head!r}"
        text = text.replace(head, head + '\tinput.caller.name == "nobody-at-all"\n')
    path.write_text(text, "utf-8")
    return root


def module(package: str, body: str) -> str:
    """A module: package on line 1, import on line 3, `body` from line 5 on."""
    return f"package {package}\n\nimport rego.v1\n\n{body}"


class TestPolicyTest:
    """`policy test` runs every test_ rule, like `opa test -v`, with coverage."""

    def test_when_every_test_passes_then_exit_0_with_a_line_per_test(self, capsys):
        """The shipped bundle (the default policy_dir): every test PASS, a tally, coverage."""
        code, out, _ = run(capsys, "policy", "test")

        passes = re.findall(r"^data\.\S+: PASS \(\d+\.\dms\)$", out, re.MULTILINE)
        assert code == 0
        assert f"PASS: {len(passes)}/{len(passes)}" in out
        assert len(passes) >= 15
        assert re.search(r"governance/access/access\.rego\s+\d+\.\d%", out)

    def test_when_tests_fail_or_error_then_exit_1_naming_each(self, capsys, tmp_path):
        """A false test is a FAIL, a raising one an ERROR; each says where and why."""
        suite = ACCESS_TEST_REGO + (
            "\ntest_false := false\n"
            "\ntest_conflict if data.governance.access_test.twice\n"
            "\ntwice := 1 if true\n\ntwice := 2 if true\n"
        )
        root = write_bundle(tmp_path / "b", {ACCESS_TEST: suite})

        code, out, _ = run(capsys, "policy", "test", "--bundle", str(root))

        assert code == 1
        assert re.search(
            r"^data\.governance\.access_test\.test_false: FAIL \(.*\)\n"
            rf"  {ACCESS_TEST}:15: false$",
            out,
            re.MULTILINE,
        )
        assert re.search(
            r"^data\.governance\.access_test\.test_conflict: ERROR \(.*\)\n"
            rf"  {ACCESS_TEST}:17: {ACCESS_TEST}:\d+: .*conflict",
            out,
            re.MULTILINE,
        )
        assert "PASS: 1/3\nFAIL: 1/3\nERROR: 1/3" in out

    def test_verbose_lists_the_uncovered_lines(self, capsys, tmp_path):
        """-v adds the lines no test evaluated; without it only percentages show."""
        root = write_bundle(tmp_path / "b")

        _, quiet, _ = run(capsys, "policy", "test", "--bundle", str(root))
        _, verbose, _ = run(capsys, "policy", "test", "--bundle", str(root), "-v")

        assert "not covered" not in quiet
        assert re.search(
            rf"{ACCESS}\s+\d+\.\d%  not covered: 15, 19-20, 22$", verbose, re.M
        )

    @pytest.mark.parametrize(
        ("files", "expected"),
        [
            (
                {BROKEN: module("governance.broken", "b if {\n\tinput.a ==\n}\n")},
                f"{BROKEN}:7: syntax_error: expecting expression",
            ),
            (
                {BROKEN: module("governance.broken", "b if {\n\ty > 1\n}\n")},
                f"{BROKEN}:6: unsafe_variable: use of undefined variable `y` is unsafe",
            ),
            ({OBLIGATIONS: "{\n,"}, f"{OBLIGATIONS}:2: invalid_json"),
        ],
        ids=["syntax-error", "unsafe-variable", "invalid-json"],
    )
    def test_when_the_bundle_does_not_load_then_exit_2_naming_the_fault(
        self, capsys, tmp_path, files, expected
    ):
        """No test runs; stderr names file, line and fault, and shows no stack trace."""
        root = write_bundle(tmp_path / "b", files)

        code, out, err = run(capsys, "policy", "test", "--bundle", str(root))

        assert code == 2
        assert out == ""
        assert f"{root}/{expected}" in err
        assert "Traceback" not in err
        assert "backtrace" not in err

    def test_when_the_directory_is_missing_then_exit_2(self, capsys, tmp_path):
        """A wrong --bundle is a one-line error."""
        code, _, err = run(capsys, "policy", "test", "--bundle", str(tmp_path / "no"))

        assert code == 2
        assert (
            err == f"govproxy: {tmp_path / 'no'}: policy bundle directory not found\n"
        )


class TestPolicyCheck:
    """`policy check` prints `file[:line]: code: message` per finding; exit 1 if any."""

    def test_when_the_bundle_is_fit_then_exit_0_with_its_revision(
        self, capsys, demo_catalog
    ):
        """The shipped bundle against the demo catalog: ok, with the proxy's revision."""
        code, out, _ = run(capsys, *check_args(POLICIES, demo_catalog))

        assert code == 0
        assert out.startswith(
            f"ok: {POLICIES} (revision {load_bundle(POLICIES).revision})"
        )
        assert out.rstrip().endswith("and every test_ rule passes")

    def test_when_the_bundles_own_tests_fail_then_check_fails_on_each_of_them(
        self, capsys, tmp_path, demo_catalog
    ):
        """`check` and `test` agree: every test that FAILs is a `test_failed` finding."""
        root = exempt_minors(Path(shutil.copytree(POLICIES, tmp_path / "b")))
        tested, report, _ = run(capsys, "policy", "test", "--bundle", str(root))

        code, out, err = run(capsys, *check_args(root, demo_catalog))

        failed = re.findall(r"^(data\.\S+): FAIL ", report, re.M)
        found = re.findall(
            rf"^{root}/{ACCESS_TEST}:\d+: test_failed: (\S+) ", out, re.M
        )
        assert (tested, code, err) == (1, 1, "")
        assert "data.governance.access_test.test_subject_is_minor" in failed
        assert sorted(found) == sorted(failed)
        assert out.endswith(
            f"\n{len(failed)} finding(s): the bundle is not fit to deploy\n"
        )

    def test_a_test_that_is_false_or_raises_is_a_finding_at_its_rule(
        self, capsys, tmp_path, demo_catalog
    ):
        """Each finding names the rule and how it ended, not the value it produced."""
        suite = ACCESS_TEST_REGO + (
            '\ntest_false := false\n\ntest_value := "a phone number"\n'
            "\ntest_conflict if data.governance.access_test.twice\n"
            "\ntwice := 1 if true\n\ntwice := 2 if true\n"
        )
        root = write_bundle(tmp_path / "b", {ACCESS_TEST: suite})

        code, out, _ = run(capsys, *check_args(root, demo_catalog))

        assert code == 1
        assert out.splitlines() == [
            f"{root}/{ACCESS_TEST}:15: test_failed: "
            "data.governance.access_test.test_false is false",
            f"{root}/{ACCESS_TEST}:17: test_failed: "
            "data.governance.access_test.test_value is not true",
            f"{root}/{ACCESS_TEST}:19: test_error: "
            "data.governance.access_test.test_conflict raised an error",
            "3 finding(s): the bundle is not fit to deploy",
        ]

    @pytest.mark.parametrize(
        ("files", "expected"),
        [
            (
                {BROKEN: module("governance.broken", "b if {\n\tinput.a ==\n}\n")},
                f"{BROKEN}:7: syntax_error: expecting expression",
            ),
            (
                {BROKEN: module("governance.broken", "b if {\n\ty > 1\n}\n")},
                f"{BROKEN}:6: unsafe_variable: use of undefined variable `y` is unsafe",
            ),
            (
                {BROKEN: module("governance.broken", "level := 1\n\nlevel := 2\n")},
                f"{BROKEN}:7: rule_conflict: rule conflicts with rule at {BROKEN}:5:1",
            ),
            (
                {OBLIGATIONS: None},
                f"{ACCESS}:20: missing_data: data.governance.obligations.by_purpose "
                "is read but no data document or rule defines it",
            ),
            (
                {ACCESS: ACCESS_REGO.replace("count(_deny) == 0", '"yes"')},
                f"{ACCESS}:7: malformed_decision: policy returned a malformed decision "
                'for purpose analytics on dataset customers: allow: "yes"',
            ),
            (
                {"marketing/x.rego": module("marketing.x", "allow := true\n")},
                "marketing/x.rego:1: outside_root: package marketing.x is not under "
                "the bundle root governance",
            ),
        ],
        ids=[
            "syntax-error",
            "unsafe-variable",
            "conflicting-rule",
            "missing-data-document",
            "non-boolean-allow",
            "package-outside-root",
        ],
    )
    def test_when_the_bundle_is_broken_then_exit_1_with_the_finding(
        self, capsys, tmp_path, demo_catalog, files, expected
    ):
        """Each fault is one located line; a count closes the report."""
        root = write_bundle(tmp_path / "b", files)

        code, out, err = run(capsys, *check_args(root, demo_catalog))

        assert code == 1
        assert f"{root}/{expected}" in out
        assert re.search(
            r"^\d+ finding\(s\): the bundle is not fit to deploy$", out, re.M
        )
        assert err == ""

    def test_when_the_catalog_is_missing_then_exit_2(self, capsys, tmp_path):
        """The catalog is needed to check references; a missing one is one line."""
        code, _, err = run(capsys, *check_args(POLICIES, tmp_path / "none.yaml"))

        assert code == 2
        assert err.startswith("govproxy: ")
        assert "Traceback" not in err

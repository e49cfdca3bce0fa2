"""Startup takes no bundle that a reload would reject: one failing its own Rego tests.

`require_fit` is startup's check (`check_bundle`, the tests included); each test
runs it over its own copy of the shipped bundle, changed as the reviewer did.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from adapters.rego.lint import BundleNotFit, require_fit
from governance.catalog import Catalog, load_catalog
from governance.settings import Settings

POLICIES = Path(__file__).resolve().parents[2] / "policies"
ACCESS = Path("governance/access/access.rego")
ACCESS_TEST = Path("governance/access/access_test.rego")
MINOR_RULES = ('"subject_is_minor" if {\n', '"guardian_consent_required" if {\n')
NOBODY = '\tinput.caller.name == "nobody-at-all"\n'


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    """This test's copy of the shipped bundle, with the minor rules made inert:
    it parses and lints clean, and eleven of its own tests fail."""
    root = Path(shutil.copytree(POLICIES, tmp_path / "bundle"))
    path = root / ACCESS
    text = path.read_text("utf-8")
    for head in MINOR_RULES:
        assert text.count(head) == 1, f"access.rego changed: {head!r}"
        text = text.replace(head, head + NOBODY)
    path.write_text(text, "utf-8")
    return root


@pytest.fixture
def catalog(demo_settings: Settings) -> Catalog:
    return load_catalog(demo_settings.catalog_file)


class TestRequireFit:
    def test_a_bundle_failing_its_tests_is_refused_in_one_line(self, bundle, catalog):
        """The message names the bundle, the first failing test and how many more."""
        with pytest.raises(BundleNotFit) as caught:
            require_fit(bundle, catalog)

        assert str(caught.value) == (
            f"{bundle}: policy bundle is not fit to deploy: "
            f"{bundle / ACCESS_TEST}:421: test_failed: data.governance.access_test."
            "test_minor_sensitive_field_needs_both_guardian_grantor_and_separate_kind"
            " is undefined; 10 more: `govproxy policy check` lists them"
        )
        assert {f.code for f in caught.value.findings} == {"test_failed"}

    def test_a_bundle_that_does_not_parse_is_refused_in_one_line(
        self, tmp_path, catalog
    ):
        """A syntax error reads the same way: file, line, code; no engine backtrace."""
        root = Path(shutil.copytree(POLICIES, tmp_path / "bundle"))
        with (root / ACCESS).open("a", encoding="utf-8") as rego:
            rego.write("\n_broken := {\n")

        with pytest.raises(BundleNotFit) as caught:
            require_fit(root, catalog)

        assert "\n" not in str(caught.value)
        assert f"{root / ACCESS}:" in str(caught.value)
        assert ": syntax_error: " in str(caught.value)

    def test_the_shipped_bundle_passes(self, catalog):
        """The bundle in the repository is fit: every check and every test passes."""
        require_fit(POLICIES, catalog)


def test_serve_does_not_start_on_a_bundle_failing_its_tests(demo_dir, bundle):
    """`govproxy serve` refuses before any worker starts: one line, exit 2."""
    env = os.environ | {"GOV_POLICY_DIR": str(bundle)}
    config = str(demo_dir / "govproxy.yaml")

    done = subprocess.run(  # noqa: S603 - fixed argv, no shell
        [sys.executable, "-m", "governance", "--config", config, "serve"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )

    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "policy bundle is not fit to deploy" in done.stderr
    assert "test_failed: data.governance." in done.stderr

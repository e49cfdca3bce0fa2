"""Run a bundle's Rego tests on the embedded engine, as `opa test -v` would.

`RegoSuite(root)` loads every module (test modules too) and data document, then
finds every rule named `test_*` (not functions) in every package. `run(test)`
evaluates one: exactly `true` passes, `false`, undefined or any other value
fails, an evaluation error is an error. `run_all()` runs them all and reports
line coverage of every policy (non-test) module.

A bundle that does not load (a syntax error, an unsafe variable, invalid JSON)
raises `BundleNotLoadable`, which names every fault as `file:line: code: message`.

`failing_tests(root)` is the same run as findings, for the checks that gate a
bundle (`check_bundle`: `govproxy policy check`, startup and every reload): a
bundle whose own tests do not pass is not fit to decide.
"""

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from adapters.rego._load import (
    compile_bundle,
    is_test_file,
    mounted,
    read_bundle_files,
)
from adapters.rego._regorus import Module, engine_error, modules
from governance.errors import ConfigurationError
from governance.policy.bundles import Finding


class BundleNotLoadable(ConfigurationError):
    """The bundle's modules or data cannot be loaded; `findings` says where and why."""

    def __init__(self, root: Path, findings: Sequence[Finding]) -> None:
        lines = "\n".join(str(f) for f in findings)
        super().__init__(f"{root}: policy bundle does not load:\n{lines}")
        self.findings = tuple(findings)


class Verdict(StrEnum):
    """How one Rego test ended."""

    PASS = "PASS"  # noqa: S105 - a test verdict, not a password
    FAIL = "FAIL"
    ERROR = "ERROR"


@dataclass(frozen=True)
class RegoTest:
    """One `test_` rule: its full rule path, and where it is defined."""

    path: tuple[str, ...]
    file: str
    line: int

    @property
    def name(self) -> str:
        """`data.<package>.<rule>`, as `opa test` names it."""
        return "data." + ".".join(self.path)


@dataclass(frozen=True)
class TestResult:
    """One test's verdict, duration, and why it did not pass."""

    test: RegoTest
    verdict: Verdict
    seconds: float
    detail: str = ""


@dataclass(frozen=True)
class FileCoverage:
    """Covered and uncovered lines of one policy module."""

    file: str
    covered: tuple[int, ...]
    not_covered: tuple[int, ...]

    @property
    def percent(self) -> float:
        """Share of the module's evaluable lines that some test evaluated."""
        total = len(self.covered) + len(self.not_covered)
        return 100.0 * len(self.covered) / total if total else 100.0


@dataclass(frozen=True)
class TestReport:
    """Every result of a run, and the coverage of each policy module."""

    results: tuple[TestResult, ...]
    coverage: tuple[FileCoverage, ...]

    @property
    def passed(self) -> int:
        """How many tests passed."""
        return sum(r.verdict is Verdict.PASS for r in self.results)

    @property
    def ok(self) -> bool:
        """Whether every test passed (and there was at least one)."""
        return bool(self.results) and self.passed == len(self.results)


class RegoSuite:
    """The Rego tests of one bundle, on one engine (use it on one thread)."""

    def __init__(self, root: Path, *, coverage: bool = False) -> None:
        if not root.is_dir():
            raise ConfigurationError(f"{root}: policy bundle directory not found")
        policies, docs, findings = read_bundle_files(root)
        engine, compiled = compile_bundle(policies, [mounted(d) for d in docs], root)
        if findings or compiled or engine is None:
            # Dropped here, not by whoever ends up holding the traceback: a
            # regorus engine may only be freed on the thread that made it.
            del engine
            raise BundleNotLoadable(root, [*findings, *compiled])
        self._engine: Any = engine
        self._coverage = coverage
        engine.set_enable_coverage(coverage)
        self._modules = modules(engine)
        self.tests = discover(self._modules)

    def run(self, test: RegoTest) -> TestResult:
        """Evaluate one test rule."""
        start = time.perf_counter()
        try:
            value = self._engine.eval_rule(test.name)
        except RuntimeError as exc:
            error = engine_error(exc)
            where = f"{error.file}:{error.line}: " if error.file else ""
            return TestResult(
                test, Verdict.ERROR, time.perf_counter() - start, where + error.message
            )
        seconds = time.perf_counter() - start
        if value is True:
            return TestResult(test, Verdict.PASS, seconds)
        if value is None:
            detail = "undefined"
        elif value is False:
            detail = "false"
        else:
            detail = f"{_brief(value)}, not true"
        return TestResult(test, Verdict.FAIL, seconds, detail)

    def run_all(self) -> TestReport:
        """Run every test; report coverage when the suite was built with it."""
        results = tuple(self.run(t) for t in self.tests)
        return TestReport(results, self.coverage() if self._coverage else ())

    def coverage(self) -> tuple[FileCoverage, ...]:
        """Line coverage of each policy module by the tests run so far."""
        report = json.loads(self._engine.get_coverage_report_as_json())
        seen = {f["path"]: f for f in report.get("files", [])}
        found = []
        for module in self._modules:
            if is_test_file(module.file):
                continue
            entry = seen.get(module.file)
            if entry is None:  # never evaluated: regorus reports nothing for it
                lines = tuple(sorted({r.line for r in module.rules}))
                found.append(FileCoverage(module.file, (), lines))
            else:
                found.append(
                    FileCoverage(
                        module.file,
                        tuple(sorted(entry["covered"])),
                        tuple(sorted(entry["not_covered"])),
                    )
                )
        return tuple(found)


def _brief(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def discover(mods: Sequence[Module]) -> tuple[RegoTest, ...]:
    """Every `test_` rule (not function) of every module, once, in file order."""
    found: dict[tuple[str, ...], RegoTest] = {}
    for module in mods:
        for rule in module.rules:
            if rule.path[-1].startswith("test_") and not rule.function:
                found.setdefault(rule.path, RegoTest(rule.path, module.file, rule.line))
    return tuple(found.values())


def failing_tests(root: Path) -> list[Finding]:
    """Each `test_` rule of the bundle under `root` that does not pass, as a finding.

    `test_failed` (false, undefined or not `true`) or `test_error` (evaluation
    raised), at the rule's definition. The message names the rule and how it
    ended, never the value it produced nor the engine's message (which may quote
    one): findings reach `/v1/policy` and the logs; `govproxy policy test` shows
    the detail. A bundle with no `test_` rule at all is `no_tests`: a deploy
    that left the test files behind must not pass for one whose tests pass. A
    bundle that does not load gives the findings that say why.
    The engine is built and dropped on the calling thread.
    """
    try:
        suite = RegoSuite(root)
    except BundleNotLoadable as exc:
        return list(exc.findings)
    results = suite.run_all().results
    if not results:  # e.g. deployed with `rsync --exclude '*_test.rego'`
        return [
            Finding(
                str(root),
                None,
                "no_tests",
                "the bundle has no test_ rules: nothing shows its rules do what"
                " they should",
            )
        ]
    return [_finding(root, r) for r in results if r.verdict is not Verdict.PASS]


def _finding(root: Path, result: TestResult) -> Finding:
    test = result.test
    if result.verdict is Verdict.ERROR:
        code, how = "test_error", "raised an error"
    else:
        code = "test_failed"
        how = "is " + (result.detail if result.detail in _PLAIN else "not true")
    return Finding(str(root / test.file), test.line, code, f"{test.name} {how}")


_PLAIN = frozenset({"false", "undefined"})  # the details that quote no value

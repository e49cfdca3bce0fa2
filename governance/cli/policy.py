"""`govproxy policy test|check|explain`: work on the Rego bundle before deploying it.

```
govproxy policy test  [--bundle DIR] [-v]     every test_ rule: exit 0 all pass, 1 any
                                              fails or errors, 2 the bundle does not load
govproxy policy check [--bundle DIR] [--catalog FILE]
                                              parse, compile, lint, smoke-evaluate,
                                              run the tests: exit 0 fit, 1 findings
                                              (what startup and a reload require)
govproxy policy explain --caller … --purpose … --dataset …   (see policy_explain.py)
govproxy policy decisions [--since T] [--until T] [--caller NAME] > decisions.jsonl
                                              the decision log, OPA-shaped JSON lines
                                              (see policy_decisions.py)
```

`--bundle` defaults to the configured `policy_dir`, `--catalog` to the configured
`catalog_file` (`--config` or GOV_CONFIG_FILE).
"""

import argparse
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from adapters.rego.bundle import load_bundle
from adapters.rego.lint import check_bundle
from adapters.rego.testing import RegoSuite, TestReport, TestResult, Verdict
from governance.catalog import load_catalog
from governance.cli import policy_decisions, policy_explain
from governance.settings import load_settings


def add_parser(sub: Any) -> Any:
    """Register the `policy` group; return its subparsers."""
    policy = sub.add_parser(
        "policy", help="test, check and explain the Rego bundle; export decisions"
    )
    psub = policy.add_subparsers(dest="policy_command", required=True)
    test = psub.add_parser(
        "test", help="run every test_ rule, with line coverage per policy file"
    )
    test.add_argument("--bundle", type=Path, help="bundle (else policy_dir)")
    test.add_argument(
        "-v", "--verbose", action="store_true", help="list uncovered lines too"
    )
    test.set_defaults(run=run_test)
    check = psub.add_parser(
        "check",
        help="parse, compile and lint the bundle against the catalog; run its tests",
    )
    check.add_argument("--bundle", type=Path, help="bundle (else policy_dir)")
    check.add_argument("--catalog", type=Path, help="catalog (else catalog_file)")
    check.set_defaults(run=run_check)
    policy_explain.add_parser(psub)
    policy_decisions.add_parser(psub)
    return psub


def _bundle_dir(args: argparse.Namespace) -> Path:
    bundle: Path | None = args.bundle
    if bundle is not None:
        return bundle
    config: Path | None = args.config
    return load_settings(config).policy_dir


def run_test(args: argparse.Namespace) -> int:
    """Run the bundle's Rego tests; print each verdict, the tally and coverage."""
    root = _bundle_dir(args)
    report = RegoSuite(root, coverage=True).run_all()
    for result in report.results:
        print(_verdict_line(result))
    print("-" * 80)
    print(_tally(report))
    print("coverage:")
    width = max((len(str(root / c.file)) for c in report.coverage), default=0)
    for cov in report.coverage:
        line = f"  {root / cov.file!s:<{width}}  {cov.percent:5.1f}%"
        if args.verbose and cov.not_covered:
            line += f"  not covered: {_ranges(cov.not_covered)}"
        print(line)
    return 0 if report.ok else 1


def _verdict_line(result: TestResult) -> str:
    line = f"{result.test.name}: {result.verdict.value} ({result.seconds * 1000:.1f}ms)"
    if result.verdict is Verdict.PASS:
        return line
    where = f"{result.test.file}:{result.test.line}"
    return f"{line}\n  {where}: {result.detail}"


def _tally(report: TestReport) -> str:
    total = len(report.results)
    if not total:
        return "no test_ rules found"
    lines = [f"PASS: {report.passed}/{total}"]
    for verdict in (Verdict.FAIL, Verdict.ERROR):
        count = sum(r.verdict is verdict for r in report.results)
        if count:
            lines.append(f"{verdict.value}: {count}/{total}")
    return "\n".join(lines)


def _ranges(lines: Iterable[int]) -> str:
    """`3, 5-7, 10` for lines 3, 5, 6, 7, 10."""
    spans: list[list[int]] = []
    for n in sorted(lines):
        if spans and n == spans[-1][1] + 1:
            spans[-1][1] = n
        else:
            spans.append([n, n])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)


def run_check(args: argparse.Namespace) -> int:
    """Check the bundle as startup and a reload do (`check_bundle`, its tests too);
    print each finding as `file[:line]: code: message`."""
    root = _bundle_dir(args)
    catalog_file: Path | None = args.catalog
    if catalog_file is None:
        config: Path | None = args.config
        catalog_file = load_settings(config).catalog_file
    catalog = load_catalog(catalog_file)
    findings = check_bundle(root, catalog)
    for finding in findings:
        print(finding)
    if findings:
        print(f"{len(findings)} finding(s): the bundle is not fit to deploy")
        return 1
    bundle = load_bundle(root)
    print(
        f"ok: {root} (revision {bundle.revision}): {len(bundle.policies)} policy "
        f"modules, {len(bundle.data)} data documents; the decision is well-formed "
        f"for each of {len(catalog.purposes)} purposes, and every test_ rule passes"
    )
    return 0

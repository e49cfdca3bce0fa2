"""Check a policy bundle before it is used: `check_bundle(root, catalog) -> [Finding]`.

An empty list means the bundle can be deployed. The checks, in order:

* files: every `data.json` parses and is an object; `.manifest` (if any) names roots;
* parse: every `*.rego` module (test modules too) parses (`syntax_error`);
* compile: regorus' static analysis of all modules (`unsafe_variable`,
  `rule_conflict`, `recursion`, `compile_error`), then every policy package is
  evaluated once without input (`eval_error` and the same codes);
* layout: every package and data document sits under a manifest root
  (`outside_root`; default root `governance`);
* references: every `data.` path a policy reads exists (`missing_data`); every
  category, purpose and obligation the policies and data documents name is
  defined (`unknown_category`, `unknown_purpose`, `unknown_obligation`);
* entrypoint: `data.governance.access.decision` is defined (`missing_entrypoint`)
  and, for each catalog purpose, gives a well-formed decision
  (`adapters.rego.decider.to_decision`) on a well-formed input (`malformed_decision`,
  `eval_error`, `default_decision` when it falls back to its default);
* tests, once nothing else is found (a fault already named fails tests too):
  every `test_` rule passes on a fresh engine, as `govproxy policy test` runs it
  (`test_failed`, `test_error`; `adapters.rego.testing.failing_tests`). They run
  on the embedded engine whichever engine decides (an OPA sidecar too): a
  bundle's own tests are part of what makes it fit.

Findings print as `file[:line]: code: message`; codes are stable snake_case.
`require_fit` is the same check for startup: one line, and no proxy, when the
bundle is not fit, so that a restart takes no bundle a reload would reject.
"""

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from adapters.rego._load import (
    DataDocument,
    compile_bundle,
    engine_finding,
    is_test_file,
    mounted,
    read_bundle_files,
)
from adapters.rego._references import (
    Reference,
    data_reads,
    data_references,
    known_categories,
    rego_references,
)
from adapters.rego._regorus import DataPath, Module, modules
from adapters.rego._smoke import check_entrypoint
from adapters.rego.testing import failing_tests
from governance.catalog import Catalog
from governance.errors import ConfigurationError
from governance.policy.bundles import Finding
from governance.types import Obligation

__all__ = ["BundleNotFit", "Finding", "check_bundle", "require_fit"]

DEFAULT_ROOTS: tuple[DataPath, ...] = (("governance",),)


def check_bundle(root: Path, catalog: Catalog) -> list[Finding]:
    """Every fault of the bundle under `root` against `catalog`; empty when it is fit."""
    if not root.is_dir():
        return [Finding(str(root), None, "bundle_missing", "no bundle directory")]
    policies, docs, findings = read_bundle_files(root)
    roots, manifest_findings = _manifest_roots(root)
    findings += manifest_findings
    engine, compiled = compile_bundle(policies, [mounted(d) for d in docs], root)
    findings += compiled
    if engine is not None:
        mods = modules(engine)
        policy_mods = [m for m in mods if not is_test_file(m.file)]
        findings += _layout(root, mods, docs, roots)
        findings += _evaluate_packages(root, engine, policy_mods)
        if not any(f.code in _UNLOADED_DATA for f in findings):
            # A document that did not load is reported; what it leaves unread is not.
            findings += _missing_data(root, policy_mods, mods, docs)
        refs = [*rego_references(policy_mods, catalog), *data_references(docs, catalog)]
        findings += _unknown_references(root, refs, catalog)
        findings += check_entrypoint(root, engine, mods, catalog)
    if not findings:  # otherwise tests fail because of a fault already named
        findings += failing_tests(root)
    unique = {(f.file, f.line, f.code, f.message): f for f in findings}
    return sorted(unique.values(), key=Finding.sort_key)


class BundleNotFit(ConfigurationError):
    """The bundle has findings; the message is one line, `findings` holds them all."""

    def __init__(self, root: Path, findings: Sequence[Finding]) -> None:
        first = str(findings[0]).replace("\n", " ")
        more = len(findings) - 1
        rest = f"; {more} more: `govproxy policy check` lists them" if more else ""
        super().__init__(f"{root}: policy bundle is not fit to deploy: {first}{rest}")
        self.findings = tuple(findings)


def require_fit(root: Path, catalog: Catalog) -> None:
    """Raise `BundleNotFit` unless `check_bundle` finds nothing (startup's check).

    A checker fault is a finding too (`check_failed`): it must not pass a bundle.
    """
    try:
        findings = check_bundle(root, catalog)
    except Exception as exc:  # a checker fault must not pass a bundle
        findings = [Finding(str(root), None, "check_failed", type(exc).__name__)]
    if findings:
        raise BundleNotFit(root, findings)


_UNLOADED_DATA = frozenset({"invalid_json", "data_not_object", "unreadable"})


def _manifest_roots(root: Path) -> tuple[tuple[DataPath, ...], list[Finding]]:
    path = root / ".manifest"
    if not path.is_file():
        return DEFAULT_ROOTS, []
    try:
        roots = json.loads(path.read_text(encoding="utf-8")).get("roots")
    except (OSError, UnicodeError, ValueError, AttributeError):
        roots = None
    if not isinstance(roots, list) or not all(isinstance(r, str) and r for r in roots):
        message = 'must be a JSON object with "roots": a list of package paths'
        return DEFAULT_ROOTS, [Finding(str(path), None, "invalid_manifest", message)]
    return tuple(tuple(r.strip("/").split("/")) for r in roots), []


def _under(path: DataPath, roots: Iterable[DataPath]) -> bool:
    return any(path[: len(r)] == r for r in roots)


def _layout(
    root: Path,
    mods: Sequence[Module],
    docs: Sequence[DataDocument],
    roots: Sequence[DataPath],
) -> list[Finding]:
    shown = ", ".join(".".join(r) for r in roots)
    findings = [
        Finding(
            str(root / m.file),
            m.package_line,
            "outside_root",
            f"package {'.'.join(m.package)} is not under the bundle root {shown}",
        )
        for m in mods
        if not _under(m.package, roots)
    ]
    for doc in docs:
        paths = [doc.mount] if doc.mount else [(k,) for k in doc.document]
        findings += [
            Finding(
                str(root / doc.file),
                None,
                "outside_root",
                f"data.{'.'.join(p)} is not under the bundle root {shown}",
            )
            for p in paths
            if not _under(p, roots) and not any(r[: len(p)] == p for r in roots)
        ]
    return findings


def _evaluate_packages(
    root: Path, engine: Any, policy_mods: Sequence[Module]
) -> list[Finding]:
    """Evaluate each policy package once without input: conflicts, cycles, errors."""
    findings = []
    for package in dict.fromkeys(m.package for m in policy_mods):
        try:
            engine.eval_query_as_json("data." + ".".join(package))
        except RuntimeError as exc:
            findings.append(engine_finding(root, exc, "eval_error"))
    return findings


def _missing_data(
    root: Path,
    policy_mods: Sequence[Module],
    mods: Sequence[Module],
    docs: Sequence[DataDocument],
) -> list[Finding]:
    """Every `data.` path a policy module reads must be a rule, package or document."""
    tree: dict[str, Any] = {}
    for doc in docs:
        _merge(tree, mounted(doc))
    rules = [r.path for m in mods for r in m.rules]
    packages = [m.package for m in mods]
    findings = []
    for module in policy_mods:
        missing: list[DataPath] = []
        for path, line in sorted(data_reads(module), key=lambda read: len(read[0])):
            known_gap = any(path[: len(m)] == m for m in missing)
            if not known_gap and not _resolves(path, rules, packages, tree):
                missing.append(path)
                findings.append(
                    Finding(
                        str(root / module.file),
                        line,
                        "missing_data",
                        f"data.{'.'.join(path)} is read but no data document "
                        "or rule defines it",
                    )
                )
    return findings


def _merge(into: dict[str, Any], value: dict[str, Any]) -> None:
    for key, item in value.items():
        if isinstance(item, dict) and isinstance(into.get(key), dict):
            _merge(into[key], item)
        else:
            into[key] = item


def _resolves(
    path: DataPath, rules: Sequence[DataPath], packages: Sequence[DataPath], tree: Any
) -> bool:
    if any(path[: len(r)] == r for r in rules):
        return True
    if any(p[: len(path)] == path for p in [*packages, *rules]):
        return True
    node = tree
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def _unknown_references(
    root: Path, refs: Iterable[Reference], catalog: Catalog
) -> list[Finding]:
    categories = known_categories(catalog)
    obligations = {o.value for o in Obligation}
    known = {
        "category": categories,
        "purpose": set(catalog.purposes),
        "obligation": obligations,
    }
    findings = []
    for ref in refs:
        if ref.value not in known[ref.kind]:
            findings.append(
                Finding(
                    str(root / ref.file),
                    ref.line,
                    f"unknown_{ref.kind}",
                    f"{ref.kind} {ref.value!r} is not defined in the catalog"
                    if ref.kind != "obligation"
                    else f"obligation {ref.value!r} is not one of "
                    + ", ".join(sorted(obligations)),
                )
            )
    return findings

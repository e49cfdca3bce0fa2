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
  `eval_error`, `default_decision` when it falls back to its default).

`compile_bundle` is shared with the test runner (`adapters.rego.testing`).
"""

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import regorus

from adapters.rego._references import (
    DataDocument,
    Reference,
    data_reads,
    data_references,
    known_categories,
    rego_references,
)
from adapters.rego._regorus import Module, Path_, engine_error, modules
from adapters.rego.decider import DECISION_RULE, to_decision
from governance.catalog import Catalog, Purpose
from governance.consent.check import NOT_REQUIRED
from governance.consent.ledger import ConsentRecord
from governance.errors import PolicyEngineUnavailable
from governance.policy.input import build_policy_input
from governance.types import ConsentState, Obligation, Principal, Role

DEFAULT_ROOTS: tuple[Path_, ...] = (("governance",),)
ENTRYPOINT: Path_ = tuple(DECISION_RULE.split(".")[1:])


@dataclass(frozen=True)
class Finding:
    """One fault of a bundle: where, a stable snake_case code, and what is wrong."""

    file: str
    line: int | None
    code: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.code}: {self.message}"

    def sort_key(self) -> tuple[str, int, str, str]:
        """Order of a report: by file, line, code."""
        return (self.file, self.line or 0, self.code, self.message)


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
        findings += _entrypoint(root, engine, mods, catalog)
    unique = {(f.file, f.line, f.code, f.message): f for f in findings}
    return sorted(unique.values(), key=Finding.sort_key)


_UNLOADED_DATA = frozenset({"invalid_json", "data_not_object", "unreadable"})


def is_test_file(name: str) -> bool:
    """Whether a module is a test module (`*_test.rego`), as OPA's layout has it."""
    return name.endswith("_test.rego")


def read_bundle_files(
    root: Path,
) -> tuple[list[tuple[str, str]], list[DataDocument], list[Finding]]:
    """The modules (name, text) and data documents under `root`, and read faults."""
    findings: list[Finding] = []
    policies = []
    for path in sorted(root.rglob("*.rego")):
        name = str(path.relative_to(root))
        try:
            policies.append((name, path.read_text(encoding="utf-8")))
        except (OSError, UnicodeError) as exc:
            findings.append(Finding(str(path), None, "unreadable", str(exc)))
    docs = []
    for path in sorted(root.rglob("data.json")):
        doc, fault = _read_data(root, path)
        if fault:
            findings.append(fault)
        elif doc:
            docs.append(doc)
    return policies, docs, findings


def _read_data(root: Path, path: Path) -> tuple[DataDocument | None, Finding | None]:
    try:
        text = path.read_text(encoding="utf-8")
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, Finding(str(path), exc.lineno, "invalid_json", exc.msg)
    except (OSError, UnicodeError) as exc:
        return None, Finding(str(path), None, "unreadable", str(exc))
    if not isinstance(document, dict):
        kind = type(document).__name__
        message = f"a data document must be a JSON object, not {kind}"
        return None, Finding(str(path), 1, "data_not_object", message)
    mount = path.parent.relative_to(root).parts
    return DataDocument(
        str(path.relative_to(root)), mount, document, tuple(text.splitlines())
    ), None


def mounted(doc: DataDocument) -> dict[str, Any]:
    """The document wrapped in the data path of its directory (OPA's layout)."""
    value: dict[str, Any] = doc.document
    for part in reversed(doc.mount):
        value = {part: value}
    return value


def compile_bundle(
    policies: Sequence[tuple[str, str]],
    data: Sequence[dict[str, Any]],
    root: Path,
) -> tuple[Any | None, list[Finding]]:
    """A regorus engine with every module and data document, or None and why not."""
    engine = regorus.Engine()
    findings: list[Finding] = []
    for name, text in policies:
        try:
            engine.add_policy(name, text)
        except RuntimeError as exc:
            findings.append(_engine_finding(root, exc, "syntax_error", name))
    for document in data:
        try:
            engine.add_data_json(json.dumps(document))
        except RuntimeError as exc:
            message = f"data documents overlap: {engine_error(exc).message}"
            findings.append(Finding(str(root), None, "data_conflict", message))
    if findings:
        return None, findings
    try:
        engine.eval_query("true")
    except RuntimeError as exc:
        return None, [_engine_finding(root, exc, "compile_error")]
    return engine, []


def _engine_finding(
    root: Path, exc: BaseException, fallback: str, file: str | None = None
) -> Finding:
    """A finding from a regorus error, its code read from the message."""
    error = engine_error(exc)
    message = error.message
    code = fallback
    for needle, named in (
        ("is unsafe", "unsafe_variable"),
        ("conflict", "rule_conflict"),
        ("recursion", "recursion"),
        ("could not find function", "unknown_function"),
    ):
        if needle in message:
            code = named
            break
    where = error.file or file
    return Finding(str(root / where) if where else str(root), error.line, code, message)


def _manifest_roots(root: Path) -> tuple[tuple[Path_, ...], list[Finding]]:
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


def _under(path: Path_, roots: Iterable[Path_]) -> bool:
    return any(path[: len(r)] == r for r in roots)


def _layout(
    root: Path,
    mods: Sequence[Module],
    docs: Sequence[DataDocument],
    roots: Sequence[Path_],
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
            findings.append(_engine_finding(root, exc, "eval_error"))
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
        missing: list[Path_] = []
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
    path: Path_, rules: Sequence[Path_], packages: Sequence[Path_], tree: Any
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


def _entrypoint(
    root: Path, engine: Any, mods: Sequence[Module], catalog: Catalog
) -> list[Finding]:
    """The decision rule exists and decides well-formed inputs well."""
    defining = [
        (m, r) for m in mods for r in m.rules if r.path == ENTRYPOINT and not r.function
    ]
    if not defining:
        message = f"no rule defines {DECISION_RULE}, the rule the proxy asks"
        return [Finding(str(root), None, "missing_entrypoint", message)]
    module, rule = defining[-1]
    where = (str(root / module.file), rule.line)
    packages = [m.package for m in mods if not is_test_file(m.file)]
    for label, policy_input in smoke_inputs(catalog):
        try:
            engine.set_input_json(json.dumps(policy_input))
            result = engine.eval_rule(DECISION_RULE)
            # Rules the decision does not read can still conflict on this input.
            for package in dict.fromkeys(packages):
                engine.eval_query_as_json("data." + ".".join(package))
        except RuntimeError as exc:
            return [_engine_finding(root, exc, "eval_error")]
        fault = _decision_fault(result, label)
        if fault:
            return [Finding(*where, *fault)]
    return []


# The reason the shipped rule's `default` gives: a well-formed input must not get it.
DEFAULT_REASON = "no_decision"


def _decision_fault(result: Any, label: str) -> tuple[str, str] | None:
    """(code, message) when `result` is not a decision the proxy can act on."""
    try:
        decision = to_decision(result, "check")
    except PolicyEngineUnavailable as exc:
        return "malformed_decision", (
            f"{exc} for {label}: {_shape(result)}; the proxy needs allow: boolean, "
            "reasons: [string], obligations: {field: keep|mask|pseudonymise|withhold}"
        )
    if decision.reasons == (DEFAULT_REASON,):
        return "default_decision", (
            f"the rule gave its default ({DEFAULT_REASON}) for {label}: "
            "it does not accept the input the proxy builds"
        )
    return None


def _shape(result: Any) -> str:
    """What the rule returned, briefly: never more than the decision's own facts."""
    if not isinstance(result, dict):
        return f"it returned {_brief(result)}"
    obligations = result.get("obligations")
    shown = _brief(obligations)
    if isinstance(obligations, dict):
        valid = {o.value for o in Obligation}
        bad = {k: v for k, v in obligations.items() if v not in valid}
        shown = _brief(bad) if bad else f"{len(obligations)} valid entries"
    parts = {"allow": result.get("allow"), "reasons": result.get("reasons")}
    return ", ".join(f"{k}: {_brief(v)}" for k, v in parts.items()) + (
        f", obligations: {shown}"
    )


def _brief(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def smoke_inputs(catalog: Catalog) -> list[tuple[str, dict[str, Any]]]:
    """One well-formed input per purpose and dataset: every field, every tag."""
    inputs = []
    for purpose in sorted(catalog.purposes.values(), key=lambda p: p.name):
        for dataset in catalog.datasets.values():
            tags = tuple(catalog.tags.values()) if dataset.tags else ()
            inputs.append(
                (
                    f"purpose {purpose.name} on dataset {dataset.name}",
                    build_policy_input(
                        principal=Principal(
                            "policy-check", Role.SERVICE, frozenset({purpose.name})
                        ),
                        purpose=purpose,
                        dataset=dataset.name,
                        fields=dataset.fields.values(),
                        explicit_fields=True,
                        tags=tags,
                        consent=_granted(catalog, purpose),
                        minor=False,
                    ),
                )
            )
    return inputs


def _granted(catalog: Catalog, purpose: Purpose) -> ConsentRecord:
    if not purpose.requires_consent:
        return NOT_REQUIRED
    notice = catalog.current_notice(purpose.name)
    return ConsentRecord(
        ConsentState.GRANTED,
        notice_version=notice.version if notice else None,
        kind=notice.kind if notice else "general",
        grantor="self",
        scope=notice.categories if notice else purpose.categories,
    )

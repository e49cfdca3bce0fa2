"""Read a bundle's files and build a regorus engine from them, reporting every fault.

Shared by the linter (`adapters.rego.lint`) and the test runner
(`adapters.rego.testing`): faults are `Finding`s (`file[:line]: code: message`),
never exceptions, so one pass reports all of them.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import regorus

from adapters.rego._regorus import DataPath, engine_error
from governance.policy.bundles import Finding


@dataclass(frozen=True)
class DataDocument:
    """A `data.json`: its file (relative to the root), mount path, value and lines."""

    file: str
    mount: DataPath
    document: dict[str, Any]
    lines: tuple[str, ...]


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
            findings.append(engine_finding(root, exc, "syntax_error", name))
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
        return None, [engine_finding(root, exc, "compile_error")]
    return engine, []


def engine_finding(
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

"""A Rego bundle on disk, loaded the way OPA loads one.

Every `*.rego` file is a policy module; every `data.json` is mounted at the data
path of its directory (`governance/obligations/data.json` becomes
`data.governance.obligations`). The revision is a digest of every policy and
data file's path and bytes, so two processes with the same bundle report the
same revision. `bundle_digest` also covers the test modules and `.manifest`:
everything `check_bundle` looks at, so a reloader notices any change to check.
"""

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import regorus

from governance.errors import ConfigurationError


@dataclass(frozen=True)
class Bundle:
    """The parsed contents of a bundle directory."""

    root: Path
    policies: tuple[tuple[str, str], ...]
    data: tuple[dict[str, Any], ...]
    revision: str

    def engine(self) -> Any:
        """A fresh `regorus.Engine` holding this bundle's policies and data.

        A bundle that does not load raises only after its engine is dropped:
        regorus engines are "unsendable", and one kept alive by the error's
        traceback could be freed later by the garbage collector on another
        thread, which regorus refuses (the engine leaks, with an error).
        """
        engine = regorus.Engine()
        try:
            for name, text in self.policies:
                engine.add_policy(name, text)
            for document in self.data:
                engine.add_data_json(json.dumps(document))
        except RuntimeError as exc:
            fault = f"{self.root}: policy bundle does not load: {exc}"
        else:
            return engine
        del engine
        raise ConfigurationError(fault)


def load_bundle(root: Path, *, include_tests: bool = False) -> Bundle:
    """Read the bundle under `root`; test modules only when `include_tests`."""
    if not root.is_dir():
        raise ConfigurationError(f"{root}: policy bundle directory not found")
    rego = sorted(
        p
        for p in root.rglob("*.rego")
        if include_tests or not p.name.endswith("_test.rego")
    )
    data_files = sorted(root.rglob("data.json"))
    return Bundle(
        root=root,
        policies=tuple(
            (str(p.relative_to(root)), p.read_text(encoding="utf-8")) for p in rego
        ),
        data=tuple(_mount(p, root) for p in data_files),
        revision=_digest(root, [*rego, *data_files]),
    )


def bundle_revision(root: Path) -> str:
    """The revision `load_bundle(root)` would report, without parsing anything."""
    rego = (p for p in root.rglob("*.rego") if not p.name.endswith("_test.rego"))
    return _digest(root, [*sorted(rego), *sorted(root.rglob("data.json"))])


def bundle_digest(root: Path) -> str:
    """A digest of every file of the bundle: policies, tests, data and `.manifest`."""
    files = [*root.rglob("*.rego"), *root.rglob("data.json"), *root.glob(".manifest")]
    return _digest(root, sorted(files))


def _digest(root: Path, paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(
            str(path.relative_to(root)).encode() + b"\x00" + path.read_bytes()
        )
    return "sha256:" + digest.hexdigest()[:16]


def _mount(path: Path, root: Path) -> dict[str, Any]:
    try:
        document: Any = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ConfigurationError(f"{path}: not valid JSON: {exc}") from None
    for part in reversed(path.parent.relative_to(root).parts):
        document = {part: document}
    if not isinstance(document, dict):
        raise ConfigurationError(
            f"{path}: a data document at the bundle root must be an object"
        )
    return document

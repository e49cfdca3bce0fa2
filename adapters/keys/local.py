"""Local key file: named, versioned secret keys in a JSON file readable only by its owner.

The file is created (mode 0600) with fresh random keys when absent; a key name
missing from an existing file is added. Each key is 32 random bytes; the
`receipt_signing` and `audit_signing` keys are Ed25519 private seeds (consent
receipts; audit checkpoints and export manifests).
A key is rotated by adding a higher version (`v2` beside `v1`; `rotate()`, the
`govproxy keys rotate` command): the highest is current from the next start;
older ones stay readable through `versions`, so tokens made under them can
still be opened. `subject_ref` is never rotated: the audit trail names subjects
by it, and a second version would split each subject's history in two.
A remote KMS or Vault provider will implement the same `KeyProvider` interface.
"""

import base64
import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from governance.errors import ConfigurationError

KEY_NAMES = (
    "pseudonymise",
    "tokenise",
    "subject_ref",
    "cursor",
    "receipt_signing",
    "center_link",
    "audit_signing",
)
_KEY_BYTES = 32
# Keys whose rotation would break what the proxy has already recorded.
NOT_ROTATABLE = {
    "subject_ref": "the audit trail names subjects by it: a new version would hide"
    " every earlier event of a subject from searches by subject",
}


class LocalKeyProvider:
    """Keys from a local file; `repr` never shows them."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._keys = _load_or_create(path)

    def key(self, name: str) -> tuple[str, bytes]:
        """Return (version, secret) of the newest version of key `name`."""
        versions = self._keys.get(name)
        if not versions:
            raise KeyError(name)
        version = max(versions, key=lambda v: int(v.lstrip("v")))
        return version, versions[version]

    def versions(self, name: str) -> Mapping[str, bytes]:
        """Every version of key `name`, current and retired, by version."""
        versions = self._keys.get(name)
        if not versions:
            raise KeyError(name)
        return MappingProxyType(versions)

    def __repr__(self) -> str:
        return f"LocalKeyProvider(path={str(self._path)!r}, keys=***)"


def rotate(path: Path, name: str) -> str:
    """Add a fresh random version of key `name` to the file at `path`; return it.

    The file is rewritten atomically (mode 0600); every older version is kept.

    Raises:
        ConfigurationError: `name` is unknown or not rotatable, or the file is
            missing or unreadable.
    """
    if name not in KEY_NAMES:
        raise ConfigurationError(
            f"no key named {name!r} (keys: {', '.join(KEY_NAMES)})"
        )
    if name in NOT_ROTATABLE:
        raise ConfigurationError(f"{name} cannot be rotated: {NOT_ROTATABLE[name]}")
    if not path.is_file():
        raise ConfigurationError(f"{path}: no key file (the proxy creates it)")
    stored = _read(path)
    versions = stored.setdefault(name, {})
    version = f"v{max((int(v.lstrip('v')) for v in versions), default=0) + 1}"
    versions[version] = base64.b64encode(secrets.token_bytes(_KEY_BYTES)).decode()
    _write(path, stored)
    return version


def _load_or_create(path: Path) -> dict[str, dict[str, bytes]]:
    if path.exists():
        _check_mode(path)
    stored = _read(path) if path.exists() else {}
    missing = [n for n in KEY_NAMES if n not in stored]
    for name in missing:
        stored[name] = {
            "v1": base64.b64encode(secrets.token_bytes(_KEY_BYTES)).decode()
        }
    if missing:
        _write(path, stored)
    try:
        return {
            n: {v: base64.b64decode(s, validate=True) for v, s in vs.items()}
            for n, vs in stored.items()
        }
    except (ValueError, AttributeError):
        raise ConfigurationError(f"{path}: a key is not valid base64") from None


def _check_mode(path: Path) -> None:
    """Refuse a key file that other users may read, or that its group may change.

    Anyone who reads it can forge consent receipts, audit checkpoints and
    consent-center links, and re-identify pseudonymised subjects. A group may
    read it (a Kubernetes secret mounted with `defaultMode: 0440` and an
    `fsGroup`), as SSH refuses only what is worse.
    """
    try:
        mode = path.stat().st_mode & 0o777
    except OSError as exc:
        raise ConfigurationError(f"{path}: cannot read key file: {exc}") from None
    if mode & 0o027:
        raise ConfigurationError(
            f"{path}: key file mode is {mode:04o}; other users may read it or its"
            f" group may change it (chmod 600 {path.name}, or mount the secret"
            " with defaultMode 0400 or 0440)"
        )


def _read(path: Path) -> dict[str, dict[str, str]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"{path}: cannot read key file: {exc}") from None
    keys = data.get("keys") if isinstance(data, dict) else None
    if not isinstance(keys, dict):
        raise ConfigurationError(f"{path}: key file has no 'keys' mapping")
    return keys


def _write(path: Path, keys: dict[str, dict[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({"format": 1, "keys": keys}, fh, indent=2)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)

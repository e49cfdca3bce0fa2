"""Local key file: named, versioned secret keys in a JSON file readable only by its owner.

The file is created (mode 0600) with fresh random keys when absent; a key name
missing from an existing file is added. A command that only checks or prints
opens it `read_only`: the file is then never written, since a key it minted
would be handed out (say, to an auditor) as the one that signed, though it
never signed anything. Each key is 32 random bytes; the
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
import binascii
import json
import os
import re
import secrets
from collections.abc import Callable, Mapping
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
_VERSION = r"^v[1-9][0-9]*$"
# Ed25519 private seeds are exactly 32 bytes; the other keys (HMAC, AES-SIV
# halves, ...) are at least that long.
_SEEDS = frozenset({"receipt_signing", "audit_signing"})
# Keys whose rotation would break what the proxy has already recorded.
NOT_ROTATABLE = {
    "subject_ref": "the audit trail names subjects by it: a new version would hide"
    " every earlier event of a subject from searches by subject",
}


class LocalKeyProvider:
    """Keys from a local file; `repr` never shows them."""

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        """Open the key file at `path`, creating it or adding missing keys to it
        unless `read_only`.

        Raises:
            ConfigurationError: the file is unreadable, exposed to other users or
                malformed; or, `read_only`, it does not exist.
        """
        self._path = path
        self._read_only = read_only
        self._keys = _load(path) if read_only else _load_or_create(path)

    def key(self, name: str) -> tuple[str, bytes]:
        """Return (version, secret) of the newest version of key `name`.

        Raises:
            KeyError: no key `name` (ConfigurationError, naming the file, when
                `read_only`: the file lacks a key the proxy would have added).
        """
        versions = self._versions(name)
        version = max(versions, key=_number)
        return version, versions[version]

    def versions(self, name: str) -> Mapping[str, bytes]:
        """Every version of key `name`, current and retired, by version.

        Raises:
            KeyError, ConfigurationError: as `key()`.
        """
        return MappingProxyType(self._versions(name))

    def _versions(self, name: str) -> dict[str, bytes]:
        versions = self._keys.get(name)
        if versions:
            return versions
        if self._read_only:
            raise ConfigurationError(
                f"{self._path}: key file has no {name!r} key (the proxy adds it when"
                " it starts; this command never writes the key file)"
            )
        raise KeyError(name)

    def __repr__(self) -> str:
        return f"LocalKeyProvider(path={str(self._path)!r}, keys=***)"


def rotate(
    path: Path, name: str, *, record: Callable[[str], None] = lambda _version: None
) -> str:
    """Add a fresh random version of key `name` to the file at `path`; return it.

    The file is checked as the proxy checks it at startup (its mode, each
    version's name and key), then rewritten atomically (mode 0600); every older
    version is kept. `record(version)` runs once the new file is written aside
    and before it replaces the old one: when it raises (the rotation could not
    be audited), the old file is left as it was.

    Raises:
        ConfigurationError: `name` is unknown or not rotatable, or the file is
            missing, unreadable, exposed to other users or malformed.
    """
    if name not in KEY_NAMES:
        raise ConfigurationError(
            f"no key named {name!r} (keys: {', '.join(KEY_NAMES)})"
        )
    if name in NOT_ROTATABLE:
        raise ConfigurationError(f"{name} cannot be rotated: {NOT_ROTATABLE[name]}")
    if not path.is_file():
        raise ConfigurationError(f"{path}: no key file (the proxy creates it)")
    _check_mode(path)
    stored = _read(path)
    versions = stored.setdefault(name, {})
    version = f"v{max((_number(v) for v in versions), default=0) + 1}"
    versions[version] = base64.b64encode(secrets.token_bytes(_KEY_BYTES)).decode()
    _write(path, stored, before_replace=lambda: record(version))
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
    return _decoded(stored)


def _load(path: Path) -> dict[str, dict[str, bytes]]:
    """The keys of the file at `path` as they are; it is checked, never written."""
    if not path.is_file():
        raise ConfigurationError(f"{path}: no key file (the proxy creates it)")
    _check_mode(path)
    return _decoded(_read(path))


def _decoded(stored: dict[str, dict[str, str]]) -> dict[str, dict[str, bytes]]:
    return {
        n: {v: base64.b64decode(secret) for v, secret in vs.items()}
        for n, vs in stored.items()
    }


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
    for name, versions in keys.items():
        _check_versions(path, name, versions)
    return keys


def _check_versions(path: Path, name: str, versions: object) -> None:
    """Refuse a key whose versions a reader would trip on, naming file and key.

    `key()` orders versions by their number and `rotate()` adds the next, so
    each name must be `v1`, `v2`, ...; a key without versions has no current
    one; a short key weakens every pseudonym, token and signature made with
    it. The message names the version, never its secret.
    """
    where = f"{path}: key {name!r}"
    if not isinstance(versions, dict) or not versions:
        raise ConfigurationError(f'{where} has no versions (expected {{"v1": ...}})')
    for version, secret in versions.items():
        if not re.fullmatch(_VERSION, version):
            raise ConfigurationError(
                f"{where}: version {version[:16]!r} is not named v1, v2, ..."
            )
        try:
            raw = base64.b64decode(secret, validate=True)
        except (binascii.Error, TypeError, ValueError):
            raise ConfigurationError(
                f"{where} {version}: the key is not valid base64"
            ) from None
        if len(raw) != _KEY_BYTES if name in _SEEDS else len(raw) < _KEY_BYTES:
            needed = "exactly" if name in _SEEDS else "at least"
            raise ConfigurationError(
                f"{where} {version}: the key is {len(raw)} bytes; {needed}"
                f" {_KEY_BYTES} are required"
            )


def _number(version: str) -> int:
    return int(version[1:])


def _write(
    path: Path,
    keys: dict[str, dict[str, str]],
    *,
    before_replace: Callable[[], None] = lambda: None,
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"format": 1, "keys": keys}, fh, indent=2)
            fh.flush()
            os.fsync(fh.fileno())
        before_replace()
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)

"""`govproxy consent ...`: work with consent receipts.

```
govproxy consent verify-receipt FILE [--public-key PEMFILE]   exit 0 valid, 1 INVALID,
                                                              2 FILE unreadable
govproxy consent public-key [--all]                           the receipt public key PEM
govproxy consent import FILE [--encoding auto|utf-8|gbk] [--dry-run]
                          all rows or none: exit 0 imported, 1 bad rows, 2 unreadable
```

Without `--public-key`, the key is read from the key file of the configured
settings (`--config` or GOV_CONFIG_FILE); that file must already exist, so a
check never creates keys as a side effect. Every version of the receipt key
is tried by the key id the receipt names, so receipts signed before a
rotation still verify; a PEMFILE may likewise hold several keys
(`public-key --all`). A receipt that names a field twice is malformed.

Adding a subcommand: `add_parser(sub)` returns the `consent` subparsers object.
Write `def add_parser(consent_sub: Any) -> None` in your own module, register
`consent_sub.add_parser("import", ...)` there with `set_defaults(run=...)`,
and chain it in `governance/cli/main.py`:
`consent_import.add_parser(consent.add_parser(sub))`.
"""

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from adapters.keys.local import LocalKeyProvider
from governance.consent.receipts import ReceiptSigner, verify_receipt
from governance.errors import ConfigurationError
from governance.settings import load_settings
from governance.signing import key_id_of, load_public_key

_PEM = re.compile(r"-----BEGIN PUBLIC KEY-----.+?-----END PUBLIC KEY-----\n?", re.S)


def add_parser(sub: Any) -> Any:
    """Register the `consent` group; return its subparsers for more subcommands."""
    consent = sub.add_parser("consent", help="consent receipts and imports")
    csub = consent.add_subparsers(dest="consent_command", required=True)
    verify = csub.add_parser(
        "verify-receipt", help="check a signed consent receipt offline"
    )
    verify.add_argument(
        "file", metavar="FILE", help="receipt JSON file, or - for stdin"
    )
    verify.add_argument(
        "--public-key",
        type=Path,
        metavar="PEMFILE",
        help="signer's public key (else the configured key file's)",
    )
    verify.set_defaults(run=verify_receipt_file)
    keys = csub.add_parser(
        "public-key", help="print the receipt public key for auditors"
    )
    keys.add_argument(
        "--all",
        action="store_true",
        help="every version's key, the current first (receipts from before a rotation)",
    )
    keys.set_defaults(run=public_key)
    return csub


def verify_receipt_file(args: argparse.Namespace) -> int:
    """Print whether the receipt in FILE is valid, and what it states; exit 0 if
    so, 1 if not, 2 if FILE cannot be read."""
    pems = _read_pems(args.public_key) if args.public_key else _configured_pems(args)
    doc = _read_receipt(args.file)
    check = verify_receipt(doc, _pem_for(doc, pems))
    if not check.ok:
        print(f"INVALID: {check.reason}")
        return 1
    receipt = doc["receipt"]
    print(
        f"valid: receipt {receipt['receipt_id']}, signed by {doc['key_id']}\n"
        f"  subject {receipt['subject_id']} agreed to {receipt['purpose']}"
        f" ({receipt['kind']}, scope {', '.join(receipt['scope']) or '-'})"
        f" at {receipt['granted_at']} under notice {receipt['notice_version']}"
    )
    return 0


def public_key(args: argparse.Namespace) -> int:
    """Print the receipt public key PEM of the configured key file (with `--all`,
    every version's, which verifies receipts signed before a rotation)."""
    pems = _configured_pems(args)
    print("".join(pems if args.all else pems[:1]), end="")
    return 0


def _configured_pems(args: argparse.Namespace) -> list[str]:
    """The receipt public key of every version in the configured key file, the
    current first."""
    config: Path | None = args.config
    keys_file = load_settings(config).keys_file
    if not keys_file.is_file():
        raise ConfigurationError(f"{keys_file}: no key file (or pass --public-key)")
    signers = ReceiptSigner.every_version(LocalKeyProvider(keys_file))
    return [s.public_pem() for s in signers]


def _pem_for(doc: Any, pems: list[str]) -> str:
    """The PEM whose key id the receipt names, else the first (which then gives
    `key_mismatch`)."""
    named = doc.get("key_id") if isinstance(doc, dict) else None
    for pem in pems:
        key = load_public_key(pem)
        if key is not None and key_id_of(key) == named:
            return pem
    return pems[0]


def _read_pems(path: Path) -> list[str]:
    """Each PEM block of the file (a key ring: one per signing key version)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeError) as exc:
        raise ConfigurationError(f"{path}: cannot read public key: {exc}") from None
    return _PEM.findall(text) or [text]


def _read_receipt(name: str) -> Any:
    """The parsed receipt of file `name` (`-` is stdin); None if it is not JSON or
    names a key twice (a second copy of a field would be shown while the first is
    signed, or the reverse).

    Raises:
        ConfigurationError: the file cannot be read.
    """
    try:
        raw = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
    except OSError as exc:
        raise ConfigurationError(
            f"{name}: cannot read receipt: {exc.strerror or type(exc).__name__}"
        ) from None
    try:
        return json.loads(raw.decode("utf-8-sig"), object_pairs_hook=_no_repeats)
    except (UnicodeError, ValueError):
        return None


def _no_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("a key is given twice")
    return dict(pairs)

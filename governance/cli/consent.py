"""`govproxy consent ...`: work with consent receipts.

```
govproxy consent verify-receipt FILE [--public-key PEMFILE]   exit 0 valid, 1 INVALID
govproxy consent public-key                                   the receipt public key PEM
govproxy consent import FILE [--encoding auto|utf-8|gbk] [--dry-run]
                          all rows or none: exit 0 imported, 1 bad rows, 2 unreadable
```

Without `--public-key`, the key is read from the key file of the configured
settings (`--config` or GOV_CONFIG_FILE); that file must already exist, so a
check never creates keys as a side effect.

Adding a subcommand: `add_parser(sub)` returns the `consent` subparsers object.
Write `def add_parser(consent_sub: Any) -> None` in your own module, register
`consent_sub.add_parser("import", ...)` there with `set_defaults(run=...)`,
and chain it in `governance/cli/main.py`:
`consent_import.add_parser(consent.add_parser(sub))`.
"""

import argparse
import sys
from pathlib import Path
from typing import Any

import orjson

from adapters.keys.local import LocalKeyProvider
from governance.consent.receipts import ReceiptSigner, verify_receipt
from governance.errors import ConfigurationError
from governance.settings import load_settings


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
    csub.add_parser(
        "public-key", help="print the receipt public key for auditors"
    ).set_defaults(run=public_key)
    return csub


def verify_receipt_file(args: argparse.Namespace) -> int:
    """Print whether the receipt in FILE is valid; exit 0 if so, else 1."""
    pem = _read_pem(args.public_key) if args.public_key else _configured_pem(args)
    doc = _read_json(args.file)
    check = verify_receipt(doc, pem)
    if not check.ok:
        print(f"INVALID: {check.reason}")
        return 1
    receipt = doc["receipt"]
    print(
        f"valid: receipt {receipt['receipt_id']} for {receipt['purpose']}, "
        f"signed by {doc['key_id']}"
    )
    return 0


def public_key(args: argparse.Namespace) -> int:
    """Print the receipt public key PEM of the configured key file."""
    print(_configured_pem(args), end="")
    return 0


def _configured_pem(args: argparse.Namespace) -> str:
    """The receipt public key from the key file of the configured settings."""
    config: Path | None = args.config
    keys_file = load_settings(config).keys_file
    if not keys_file.is_file():
        raise ConfigurationError(f"{keys_file}: no key file (or pass --public-key)")
    return ReceiptSigner.from_keys(LocalKeyProvider(keys_file)).public_pem()


def _read_pem(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeError) as exc:
        raise ConfigurationError(f"{path}: cannot read public key: {exc}") from None


def _read_json(name: str) -> Any:
    """The parsed JSON of file `name` (`-` is stdin), or None if unreadable."""
    try:
        raw = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
        return orjson.loads(raw)
    except (OSError, orjson.JSONDecodeError):
        return None

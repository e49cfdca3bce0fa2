"""`govproxy consent ...`: work with consent receipts.

```
govproxy consent verify-receipt FILE [--public-key PEMFILE]   exit 0 valid, 1 INVALID,
                                                              2 FILE or key unreadable
govproxy consent public-key [--all]                           the receipt public key PEM
govproxy consent import FILE [--encoding auto|utf-8|gbk] [--dry-run]
                          all rows or none: exit 0 imported, 1 bad rows, 2 unreadable
```

Without `--public-key`, the key is read from the key file of the configured
settings (`--config` or GOV_CONFIG_FILE), read-only: it must already exist
and hold `receipt_signing`, so a check never creates keys as a side effect
(`public-key` would hand auditors a key that never signed anything). Every
version of the receipt key is tried by the key id the receipt names, so
receipts signed before a rotation still verify; a PEMFILE may likewise hold
several keys (`public-key --all`). A receipt that names a field twice, holds NaN or an
infinity, is over 64 KiB or nests too deeply is malformed. A valid receipt is
printed with who agreed (the subject or a guardian) and its expiry, marked
EXPIRED once past: the signature outlives the grant.

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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from adapters.keys.local import LocalKeyProvider
from governance.consent.receipts import ReceiptSigner, verify_receipt
from governance.errors import ConfigurationError
from governance.settings import load_settings
from governance.signing import key_id_of, load_public_key

# A receipt is about 1 KiB; anything much larger is not one, and is not parsed.
MAX_RECEIPT_BYTES = 64 * 1024
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
        f"  {_grantor(receipt)} agreed to {receipt['purpose']}"
        f" ({receipt['kind']}, scope {', '.join(receipt['scope']) or '-'})"
        f" at {receipt['granted_at']} under notice {receipt['notice_version']}\n"
        f"  {_expiry(receipt['expires_at'], datetime.now(UTC))}"
    )
    return 0


def _grantor(receipt: dict[str, Any]) -> str:
    """Who agreed: a guardian's grant must not read as the subject's own."""
    subject, grantor = receipt["subject_id"], receipt["grantor"]
    if grantor == "self":
        return f"subject {subject}"
    if grantor == "guardian":
        return f"the guardian of subject {subject}"
    return f"{grantor} for subject {subject}"


def _expiry(expires_at: Any, now: datetime) -> str:
    """When the grant lapses, and whether it already has: a signature stays
    valid after its grant has expired."""
    if expires_at is None:
        return "no expiry"
    try:
        moment = datetime.fromisoformat(expires_at)
    except (TypeError, ValueError):
        moment = None
    if moment is None or moment.tzinfo is None:
        return f"expires {expires_at} (no time zone: whether it has passed is unknown)"
    if moment <= now:
        return f"EXPIRED at {expires_at}: the grant no longer counts"
    return f"expires {expires_at}"


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
    keys = LocalKeyProvider(keys_file, read_only=True)
    signers = ReceiptSigner.every_version(keys)
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
    """The parsed receipt of file `name` (`-` is stdin); None if it is not JSON,
    is over MAX_RECEIPT_BYTES or nested deeper than the parser's stack, names a
    key twice (a second copy of a field would be shown while the first is
    signed, or the reverse) or spells NaN or Infinity (not JSON: the signed
    bytes hold null there; `verify_receipt` likewise refuses 1e999, which
    parses as an infinity).

    Raises:
        ConfigurationError: the file cannot be read.
    """
    try:
        if name == "-":
            raw = sys.stdin.buffer.read(MAX_RECEIPT_BYTES + 1)
        else:
            with Path(name).open("rb") as fh:
                raw = fh.read(MAX_RECEIPT_BYTES + 1)
    except OSError as exc:
        raise ConfigurationError(
            f"{name}: cannot read receipt: {exc.strerror or type(exc).__name__}"
        ) from None
    if len(raw) > MAX_RECEIPT_BYTES:
        return None
    try:
        return json.loads(
            raw.decode("utf-8-sig"),
            object_pairs_hook=_no_repeats,
            parse_constant=_no_constant,
        )
    except (UnicodeError, ValueError, RecursionError):
        return None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _no_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("a key is given twice")
    return dict(pairs)

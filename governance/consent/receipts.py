"""Signed consent receipts: proof of a grant that anyone can check offline.

`ReceiptSigner.sign(receipt)` takes the fourteen fields of one consent grant and
returns a document ready to hand to the subject or an auditor:

```
{"format": "govproxy-consent-receipt/1", "receipt": {...}, "key_id": "ed25519:<16 hex>",
 "signature": "<Ed25519 signature, base64url without padding>"}
```

The signature covers `canonical_bytes(format, key_id, receipt)`: the three
fields as JSON with sorted keys and no whitespace. `verify_receipt(doc, pem)`
needs only that document and the public key; it returns a `ReceiptCheck` and
never raises. Its reasons, checked in this order:

```
malformed       not an object, a field missing/extra/of the wrong type, bad base64
unknown_format  `format` is not RECEIPT_FORMAT
bad_public_key  the given PEM is not an Ed25519 public key
key_mismatch    `key_id` is not the id of the given public key
bad_signature   the signature does not cover these bytes (any field was changed)
```
"""

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from governance.ports import KeyProvider

RECEIPT_FORMAT = "govproxy-consent-receipt/1"
RECEIPT_KEY_NAME = "receipt_signing"
RECEIPT_FIELDS = frozenset(
    {
        "receipt_id",
        "subject_id",
        "purpose",
        "scope",
        "kind",
        "grantor",
        "notice_version",
        "method",
        "channel",
        "evidence_hash",
        "granted_at",
        "expires_at",
        "declared_frequency",
        "issuer",
    }
)
_DOC_FIELDS = frozenset({"format", "receipt", "key_id", "signature"})
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")


@dataclass(frozen=True)
class ReceiptCheck:
    """The outcome of checking one receipt; `reason` is None exactly when `ok`."""

    ok: bool
    reason: str | None = None


class ReceiptSigner:
    """Signs consent receipts with one Ed25519 key; `repr` never shows the key."""

    __slots__ = ("_key_id", "_private", "_version")

    def __init__(self, seed: bytes, version: str) -> None:
        """Build the signer from a 32-byte Ed25519 private seed.

        Args:
            seed: the private seed, e.g. the `receipt_signing` key.
            version: the key's version, kept for rotation bookkeeping.

        Raises:
            ValueError: `seed` is not 32 bytes.
        """
        self._private = Ed25519PrivateKey.from_private_bytes(seed)
        self._version = version
        self._key_id = key_id_of(self._private.public_key())

    @property
    def key_id(self) -> str:
        """`ed25519:` and 16 hex digits naming the public key."""
        return self._key_id

    @property
    def version(self) -> str:
        """The version of the key-file key this signer was built from."""
        return self._version

    @classmethod
    def from_keys(cls, keys: KeyProvider) -> "ReceiptSigner":
        """The signer of the current `receipt_signing` key of `keys`."""
        version, seed = keys.key(RECEIPT_KEY_NAME)
        return cls(seed, version)

    def public_pem(self) -> str:
        """The public key as SubjectPublicKeyInfo PEM, to hand to verifiers."""
        return (
            self._private.public_key()
            .public_bytes(
                serialization.Encoding.PEM,
                serialization.PublicFormat.SubjectPublicKeyInfo,
            )
            .decode("ascii")
        )

    def sign(self, receipt: Mapping[str, Any]) -> dict[str, Any]:
        """Return the signed receipt document.

        Args:
            receipt: exactly the RECEIPT_FIELDS, with JSON values.

        Returns:
            `{"format", "receipt", "key_id", "signature"}`; its `receipt` holds
            the values as JSON will read them back (tuples become lists).

        Raises:
            ValueError: a field is missing or extra, or a value is not JSON.
        """
        missing, extra = (
            RECEIPT_FIELDS - receipt.keys(),
            receipt.keys() - RECEIPT_FIELDS,
        )
        if missing or extra:
            raise ValueError(
                f"receipt fields: missing {sorted(missing)}, extra {sorted(map(str, extra))}"
            )
        try:
            payload = canonical_bytes(RECEIPT_FORMAT, self.key_id, receipt)
        except TypeError:
            raise ValueError("receipt values must be JSON") from None
        doc: dict[str, Any] = orjson.loads(payload)
        doc["signature"] = _b64url(self._private.sign(payload))
        return doc

    def __repr__(self) -> str:
        return f"ReceiptSigner(key_id={self.key_id!r}, version={self.version!r})"


def canonical_bytes(fmt: str, key_id: str, receipt: Mapping[str, Any]) -> bytes:
    """The bytes a receipt signature covers.

    Raises:
        TypeError: a value cannot be written as JSON.
    """
    signed = {"format": fmt, "key_id": key_id, "receipt": receipt}
    return orjson.dumps(signed, option=orjson.OPT_SORT_KEYS)


def key_id_of(public_key: Ed25519PublicKey) -> str:
    """`ed25519:` and the first 16 hex digits of the SHA-256 of the raw key."""
    raw = public_key.public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return "ed25519:" + hashlib.sha256(raw).hexdigest()[:16]


def verify_receipt(doc: Any, public_key_pem: str) -> ReceiptCheck:
    """Check a receipt document against a public key; never raises.

    Args:
        doc: the parsed receipt document, of any shape.
        public_key_pem: the signer's Ed25519 public key as PEM.

    Returns:
        `ReceiptCheck(True)`, or `ReceiptCheck(False, reason)` with a reason
        from the table in the module docstring.
    """
    if not _well_formed(doc):
        return ReceiptCheck(ok=False, reason="malformed")
    if doc["format"] != RECEIPT_FORMAT:
        return ReceiptCheck(ok=False, reason="unknown_format")
    if not isinstance(doc["receipt"], dict) or doc["receipt"].keys() != RECEIPT_FIELDS:
        return ReceiptCheck(ok=False, reason="malformed")
    signature = _b64url_decode(doc["signature"])
    if signature is None:
        return ReceiptCheck(ok=False, reason="malformed")
    public_key = _load_public_key(public_key_pem)
    if public_key is None:
        return ReceiptCheck(ok=False, reason="bad_public_key")
    if doc["key_id"] != key_id_of(public_key):
        return ReceiptCheck(ok=False, reason="key_mismatch")
    try:
        payload = canonical_bytes(doc["format"], doc["key_id"], doc["receipt"])
    except TypeError:
        return ReceiptCheck(ok=False, reason="malformed")
    try:
        public_key.verify(signature, payload)
    except InvalidSignature:
        return ReceiptCheck(ok=False, reason="bad_signature")
    return ReceiptCheck(ok=True)


def _well_formed(doc: Any) -> bool:
    """Whether `doc` has exactly the document fields, the three strings as strings."""
    return (
        isinstance(doc, dict)
        and doc.keys() == _DOC_FIELDS
        and all(isinstance(doc[k], str) for k in ("format", "key_id", "signature"))
    )


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes | None:
    """The bytes of canonical unpadded base64url `text`, or None."""
    if not _BASE64URL.fullmatch(text):
        return None
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    # Only one spelling per signature: a re-encoding must give back the text.
    return data if _b64url(data) == text else None


def _load_public_key(pem: Any) -> Ed25519PublicKey | None:
    if not isinstance(pem, str):
        return None
    try:
        key = serialization.load_pem_public_key(pem.encode("utf-8"))
    except (ValueError, TypeError, UnsupportedAlgorithm, UnicodeError):
        return None
    return key if isinstance(key, Ed25519PublicKey) else None

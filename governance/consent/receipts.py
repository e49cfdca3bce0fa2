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
malformed       not an object, a field missing/extra/of the wrong type, bad base64,
                a number that is not finite (NaN, Infinity, 1e999: JSON has no
                such value, and the signed bytes would read it as null)
unknown_format  `format` is not RECEIPT_FORMAT
bad_public_key  the given PEM is not an Ed25519 public key
key_mismatch    `key_id` is not the id of the given public key
bad_signature   the signature does not cover these bytes (any field was changed)
```
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from governance.signing import Signer, check_signature

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


@dataclass(frozen=True)
class ReceiptCheck:
    """The outcome of checking one receipt; `reason` is None exactly when `ok`."""

    ok: bool
    reason: str | None = None


class ReceiptSigner(Signer):
    """Signs consent receipts with the `receipt_signing` key."""

    __slots__ = ()
    KEY_NAME = RECEIPT_KEY_NAME

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
        doc["signature"] = self.sign_bytes(payload)
        return doc


def canonical_bytes(fmt: str, key_id: str, receipt: Mapping[str, Any]) -> bytes:
    """The bytes a receipt signature covers.

    Raises:
        TypeError: a value cannot be written as JSON.
    """
    signed = {"format": fmt, "key_id": key_id, "receipt": receipt}
    return orjson.dumps(signed, option=orjson.OPT_SORT_KEYS)


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
    try:
        payload = canonical_bytes(doc["format"], doc["key_id"], doc["receipt"])
    except TypeError:
        return ReceiptCheck(ok=False, reason="malformed")
    if not _all_finite(doc["receipt"]):
        return ReceiptCheck(ok=False, reason="malformed")
    reason = check_signature(
        payload,
        signature=doc["signature"],
        key_id=doc["key_id"],
        public_key_pem=public_key_pem,
    )
    if reason is not None:
        return ReceiptCheck(ok=False, reason=reason)
    return ReceiptCheck(ok=True)


def _all_finite(value: Any) -> bool:
    """Whether every number in `value` is finite.

    orjson writes NaN and the infinities as null, so a receipt whose null was
    replaced by one of them would verify against the very bytes that were
    signed, though it states something else. Called once orjson has written
    `value`, so it is neither cyclic nor deeper than orjson allows.
    """
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return False
        if isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)
    return True


def _well_formed(doc: Any) -> bool:
    """Whether `doc` has exactly the document fields, the three strings as strings."""
    return (
        isinstance(doc, dict)
        and doc.keys() == _DOC_FIELDS
        and all(isinstance(doc[k], str) for k in ("format", "key_id", "signature"))
    )

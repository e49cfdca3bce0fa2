"""`pseudonymise`: a keyed HMAC-SHA256 pseudonym, stable for the same key.

The pseudonym is `pv<key version>_<first 24 hex of HMAC(key, category, value)>`:
the same value of the same category always maps to the same pseudonym under one
key version, so pseudonymised data can still be joined, but not reversed without
the key. The category is part of the MAC input so that equal strings of
different kinds (a phone and an account number) do not collide.
"""

import hashlib
import hmac
from typing import Any

from governance.errors import MaskingParamsError
from governance.types import FieldFact

_MIN_KEY_BYTES = 16


class Pseudonymise:
    """Replace a value with its keyed pseudonym."""

    def __init__(self, *, key: bytes, version: str) -> None:
        if len(key) < _MIN_KEY_BYTES:
            raise MaskingParamsError("pseudonymisation key is too short")
        if not version.isalnum():
            raise MaskingParamsError("key version must be alphanumeric")
        self._key = key
        self._prefix = f"p{version}_"

    def apply(self, value: Any, field: FieldFact) -> Any:
        """Return the pseudonym of `value` (None stays None)."""
        if value is None:
            return None
        message = field.category.encode() + b"\x1f" + str(value).encode()
        return (
            self._prefix + hmac.new(self._key, message, hashlib.sha256).hexdigest()[:24]
        )

    def __repr__(self) -> str:
        return f"Pseudonymise(prefix={self._prefix!r}, key=***)"

"""Opaque, sealed query cursors.

A cursor carries the last subject key a page scanned. It is encrypted and
authenticated (AES-GCM, key from the key provider), so a caller that only sees
pseudonymised subject ids cannot read raw keys from it, nor forge one.
"""

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from governance.errors import InvalidRequest

_NONCE = 12


class CursorSealer:
    """Seals and opens cursors bound to one query (its `scope`)."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def seal(self, last_key: str, *, scope: str) -> str:
        """Encrypt `last_key` for use in the same `scope` only."""
        nonce = os.urandom(_NONCE)
        sealed = nonce + self._aead.encrypt(nonce, last_key.encode(), scope.encode())
        return base64.urlsafe_b64encode(sealed).decode().rstrip("=")

    def open(self, cursor: str, *, scope: str) -> str:
        """Return the key inside `cursor`, or raise `InvalidRequest`."""
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            plain = self._aead.decrypt(raw[:_NONCE], raw[_NONCE:], scope.encode())
            return plain.decode()
        except (ValueError, InvalidTag, UnicodeDecodeError):
            raise InvalidRequest(
                "cursor is not one this server issued for this query"
            ) from None

    def __repr__(self) -> str:
        return "CursorSealer(key=***)"

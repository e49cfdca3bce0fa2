"""`tokenise`: reversible, deterministic encryption (AES-SIV) of a field value.

A token is `tk<n>_<url-safe base64 of AES-SIV(category, value)>`, where `v<n>`
is the version of the `tokenise` key that made it. The AES-SIV key is derived
from that key and the pseudonym domain (as `pseudonymise` does), so:

* one value of one category always gives the same token within a domain and key
  version (tokens join like pseudonyms), and different domains get unrelated
  tokens that they cannot detokenise for each other;
* `detokenise` recovers the category and the exact value (a `str`, or an `int`
  kept as one), with the key version named by the token, so tokens made before
  a rotation still open; anything else (a token altered, forged, of another
  domain, or of a retired key) raises `TokenError`, which never holds the token.

Tokens are still personal information (K-04). Detokenising is an audited access
that a catalog purpose must allow (`detokenise: true`; see
`governance.masking.detokenise`).
"""

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

from governance.errors import MaskingParamsError
from governance.masking.operators.pseudonymise import derive_key, version_number
from governance.types import FieldFact

MAX_TOKEN_CHARS = 8192
_TOKEN = re.compile(r"tk([0-9]{1,6})_([A-Za-z0-9_-]+)")
_SIV_KEY_BYTES = 64  # AES-256-SIV
_SEP = b"\x1f"
_STR, _INT = b"s", b"i"


class TokenError(ValueError):
    """A token that this domain cannot open; the message never holds the token."""


@dataclass(frozen=True)
class Detokenised:
    """What a token stands for."""

    category: str
    value: str | int


class Tokenise:
    """Replace a value with its token within one domain; open tokens of that domain."""

    def __init__(self, *, keys: Mapping[str, bytes], current: str, domain: str) -> None:
        if current not in keys:
            raise MaskingParamsError("the current tokenise key version is missing")
        self.domain = domain
        self._current = version_number(current)
        self._ciphers = {
            version_number(v): AESSIV(
                derive_key(k, purpose=b"tokenise", domain=domain, length=_SIV_KEY_BYTES)
            )
            for v, k in keys.items()
        }

    def apply(self, value: Any, field: FieldFact) -> Any:
        """Return the token of `value` (None stays None)."""
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            kind, text = _INT, str(value)
        else:
            kind, text = _STR, str(value)
        plain = field.category.encode() + _SEP + kind + _utf8(text)
        sealed = self._ciphers[self._current].encrypt(plain, None)
        return (
            f"tk{self._current}_{base64.urlsafe_b64encode(sealed).decode().rstrip('=')}"
        )

    def detokenise(self, token: str) -> Detokenised:
        """What `token` stands for.

        Raises:
            TokenError: not a token of this domain under a known key version.
        """
        match = _TOKEN.fullmatch(token) if len(token) <= MAX_TOKEN_CHARS else None
        cipher = self._ciphers.get(match.group(1)) if match else None
        if match is None or cipher is None:
            raise TokenError("not a token of this domain")
        body = match.group(2)
        try:
            sealed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            plain = cipher.decrypt(sealed, None)
        except (InvalidTag, ValueError):
            raise TokenError("not a token of this domain") from None
        return _unpack(plain)

    def __repr__(self) -> str:
        return f"Tokenise(current=v{self._current}, domain={self.domain!r}, keys=***)"


def _utf8(text: str) -> bytes:
    # surrogatepass: every str has exactly one encoding, so nothing can raise
    return text.encode("utf-8", "surrogatepass")


def _unpack(plain: bytes) -> Detokenised:
    category, _, rest = plain.partition(_SEP)
    kind, text = rest[:1], rest[1:].decode("utf-8", "surrogatepass")
    return Detokenised(category.decode(), int(text) if kind == _INT else text)

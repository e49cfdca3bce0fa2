"""`pseudonymise`: a keyed HMAC-SHA256 pseudonym, stable within one domain and key.

The pseudonym is `pv<n>_<first 24 hex of HMAC(domain key, category, value)>`,
where `v<n>` is the key version. The domain key is derived from the
`pseudonymise` key and the pseudonym domain (a catalog purpose's
`pseudonym_domain`, by default its name), so:

* the same value of the same category always maps to the same pseudonym within
  one domain and key version, and pseudonymised data still joins there;
* two domains get unrelated pseudonyms for the same value: recipients in
  different domains cannot join their data on them, nor can anyone without the
  key reverse them (K-04: still personal information, keys kept apart);
* rotating the key (a new version becomes current) changes every pseudonym,
  and the prefix says which version made one.

The category is part of the MAC input so that equal strings of different kinds
(a phone and an account number) do not collide.
"""

import hashlib
import hmac
import re
from typing import Any

from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from governance.errors import MaskingParamsError
from governance.types import FieldFact

MIN_KEY_BYTES = 16
KEY_VERSION = re.compile(r"v([0-9]{1,6})")
"""Key versions as the key provider names them: `v1`, `v2`, …"""
_DOMAIN = re.compile(r"[a-z][a-z0-9_.-]{0,62}")
_HEX_CHARS = 24  # 96 bits: no collision expected below ~10^14 values per domain


def derive_key(key: bytes, *, purpose: bytes, domain: str, length: int = 32) -> bytes:
    """A key for one use (`purpose`) and one domain, derived with HKDF-SHA256.

    Raises:
        MaskingParamsError: the key is too short or the domain is not a name.
    """
    if len(key) < MIN_KEY_BYTES:
        raise MaskingParamsError("the key is too short")
    if not _DOMAIN.fullmatch(domain):
        raise MaskingParamsError("the domain must be a lowercase name")
    info = b"govproxy/" + purpose + b"\x1f" + domain.encode()
    return HKDF(SHA256(), length=length, salt=None, info=info).derive(key)


def version_number(version: str) -> str:
    """The digits of a key version (`v3` -> `3`).

    Raises:
        MaskingParamsError: the version is not `v<digits>`.
    """
    match = KEY_VERSION.fullmatch(version)
    if match is None:
        raise MaskingParamsError("the key version must look like v1")
    return match.group(1)


class Pseudonymise:
    """Replace a value with its keyed pseudonym within one domain."""

    def __init__(self, *, key: bytes, version: str, domain: str) -> None:
        self._prefix = f"pv{version_number(version)}_"
        self._key = derive_key(key, purpose=b"pseudonymise", domain=domain)
        self.domain = domain
        # HMAC state after the key and `category \x1f`, per category: copying it
        # is cheaper than keying a new HMAC for every value.
        self._started: dict[str, hmac.HMAC] = {}

    def apply(self, value: Any, field: FieldFact) -> Any:
        """Return the pseudonym of `value` (None stays None)."""
        if value is None:
            return None
        started = self._started.get(field.category)
        if started is None:
            prefix = field.category.encode() + b"\x1f"
            started = hmac.new(self._key, prefix, hashlib.sha256)
            self._started[field.category] = started
        mac = started.copy()
        # surrogatepass: any str has exactly one encoding, so nothing can raise
        mac.update(str(value).encode("utf-8", "surrogatepass"))
        return self._prefix + mac.hexdigest()[:_HEX_CHARS]

    def __repr__(self) -> str:
        return f"Pseudonymise(prefix={self._prefix!r}, domain={self.domain!r}, key=***)"

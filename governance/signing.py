"""Ed25519 signatures that anyone holding the public key can check offline.

One `Signer` per key-file key (consent receipts, audit checkpoints and export
manifests each have their own). A signature travels as unpadded base64url and
names its key by `key_id` (`ed25519:` and 16 hex digits of the raw public key's
SHA-256), so a verifier given the wrong public key is told `key_mismatch`
rather than `bad_signature`.

`check_signature()` never raises; its reasons, checked in this order:

```
malformed       the signature is not canonical unpadded base64url
bad_public_key  the given PEM is not an Ed25519 public key
key_mismatch    `key_id` is not the id of the given public key
bad_signature   the signature does not cover these bytes
```
"""

import base64
import binascii
import hashlib
import re
from typing import Any, ClassVar, Self

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from governance.ports import KeyProvider

_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")


class Signer:
    """Signs bytes with one Ed25519 key; `repr` never shows the key.

    A subclass names its key-file key in `KEY_NAME`.
    """

    __slots__ = ("_key_id", "_private", "_version")
    KEY_NAME: ClassVar[str]

    def __init__(self, seed: bytes, version: str) -> None:
        """Build the signer from a 32-byte Ed25519 private seed.

        Raises:
            ValueError: `seed` is not 32 bytes.
        """
        self._private = Ed25519PrivateKey.from_private_bytes(seed)
        self._version = version
        self._key_id = key_id_of(self._private.public_key())

    @classmethod
    def from_keys(cls, keys: KeyProvider) -> Self:
        """The signer of the current version of key `KEY_NAME` of `keys`."""
        version, seed = keys.key(cls.KEY_NAME)
        return cls(seed, version)

    @classmethod
    def every_version(cls, keys: KeyProvider) -> list[Self]:
        """A signer of each version of key `KEY_NAME` of `keys`, the current first:
        what verifies what earlier versions signed."""
        current = cls.from_keys(keys)
        older = sorted(v for v in keys.versions(cls.KEY_NAME) if v != current.version)
        return [current, *(cls(keys.versions(cls.KEY_NAME)[v], v) for v in older)]

    @property
    def key_id(self) -> str:
        """`ed25519:` and 16 hex digits naming the public key."""
        return self._key_id

    @property
    def version(self) -> str:
        """The version of the key-file key this signer was built from."""
        return self._version

    def sign_bytes(self, payload: bytes) -> str:
        """The signature of `payload`, as unpadded base64url."""
        return b64url(self._private.sign(payload))

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

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(key_id={self.key_id!r}, version={self.version!r})"
        )


def key_id_of(public_key: Ed25519PublicKey) -> str:
    """`ed25519:` and the first 16 hex digits of the SHA-256 of the raw key."""
    raw = public_key.public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return "ed25519:" + hashlib.sha256(raw).hexdigest()[:16]


def check_signature(
    payload: bytes, *, signature: str, key_id: str, public_key_pem: Any
) -> str | None:
    """None when `signature` by `key_id` covers `payload`, else the reason it fails."""
    raw = b64url_decode(signature)
    if raw is None:
        return "malformed"
    public_key = load_public_key(public_key_pem)
    if public_key is None:
        return "bad_public_key"
    if key_id != key_id_of(public_key):
        return "key_mismatch"
    try:
        public_key.verify(raw, payload)
    except InvalidSignature:
        return "bad_signature"
    return None


def load_public_key(pem: Any) -> Ed25519PublicKey | None:
    """The Ed25519 public key in PEM text `pem`, or None if it is not one."""
    if not isinstance(pem, str):
        return None
    try:
        key = serialization.load_pem_public_key(pem.encode("utf-8"))
    except (ValueError, TypeError, UnsupportedAlgorithm, UnicodeError):
        return None
    return key if isinstance(key, Ed25519PublicKey) else None


def b64url(data: bytes) -> str:
    """`data` as unpadded base64url."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes | None:
    """The bytes of canonical unpadded base64url `text`, or None."""
    if not isinstance(text, str) or not _BASE64URL.fullmatch(text):
        return None
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    # Only one spelling per signature: a re-encoding must give back the text.
    return data if b64url(data) == text else None

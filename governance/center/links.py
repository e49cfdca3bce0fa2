"""Sealed, expiring links to a subject's consent center.

`LinkSigner.issue(subject_id, ttl=..., now=...)` returns an opaque url-safe
token; `LinkSigner.open(token, now=...)` gives the subject id back, or raises:

```
* LinkError          base; the page answers 403 for either leaf
  + LinkInvalid      not a token this key sealed: forged, tampered, truncated, other key
  + LinkExpired      genuine, but its expiry has passed
```

Token layout, base64url without padding:

```
version (1 byte) | nonce (12) | AES-256-GCM( expiry (8, epoch s) | id length (2) | id | zeros )
```

The payload is encrypted, not just signed, so a token leaked into an access
log or a browser history names nobody; zero padding to a multiple of 32 bytes
hides the id's exact length. The GCM tag is the MAC: it covers the payload and
the version (associated data) and OpenSSL checks it in constant time, so any
changed byte is `LinkInvalid` before the expiry is even read. The key is the
key provider's `center_link` key, used for nothing else.
"""

import math
import os
import struct
from datetime import UTC, datetime, timedelta

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from governance.signing import b64url, b64url_decode

LINK_KEY_NAME = "center_link"
MAX_TOKEN_CHARS = 1024
_VERSION = b"\x01"
_AAD = b"govproxy-consent-center-link/" + _VERSION
_NONCE = 12
_HEAD = struct.Struct(">QH")  # expiry (epoch seconds), id length in bytes
_PAD = 32


class LinkError(Exception):
    """A consent-center link that must not open the page."""


class LinkInvalid(LinkError):
    """The token was not sealed by this key, or was changed since."""


class LinkExpired(LinkError):
    """The token is genuine but its expiry has passed."""


def link_expiry(now: datetime, ttl: timedelta) -> datetime:
    """When a link issued at `now` for `ttl` expires (whole seconds, UTC)."""
    return datetime.fromtimestamp(math.floor((now + ttl).timestamp()), UTC)


class LinkSigner:
    """Issues and opens consent-center link tokens with one 32-byte key."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def issue(self, subject_id: str, *, ttl: timedelta, now: datetime) -> str:
        """A token that opens to `subject_id` until `now + ttl`."""
        if ttl <= timedelta(0):
            raise ValueError("a link needs a positive time to live")
        raw_id = subject_id.encode()
        if not raw_id or len(raw_id) > 0xFFFF:
            raise ValueError("a link names one non-empty subject id")
        expiry = int(link_expiry(now, ttl).timestamp())
        plain = _HEAD.pack(expiry, len(raw_id)) + raw_id
        plain += b"\x00" * (-len(plain) % _PAD)
        nonce = os.urandom(_NONCE)
        sealed = _VERSION + nonce + self._aead.encrypt(nonce, plain, _AAD)
        return b64url(sealed)

    def open(self, token: str, *, now: datetime) -> str:
        """The subject id sealed in `token`; `LinkInvalid` or `LinkExpired` otherwise."""
        expiry, subject_id = self._unseal(token)
        if now.timestamp() >= expiry:
            raise LinkExpired("the link has expired")
        return subject_id

    def _unseal(self, token: str) -> tuple[int, str]:
        if not 0 < len(token) <= MAX_TOKEN_CHARS:
            raise LinkInvalid("not a consent-center link")
        raw = b64url_decode(token)  # one spelling per token: no stray characters
        if raw is None:
            raise LinkInvalid("not a consent-center link")
        try:
            if raw[:1] != _VERSION:
                raise LinkInvalid("not a consent-center link")
            nonce, sealed = raw[1 : 1 + _NONCE], raw[1 + _NONCE :]
            plain = self._aead.decrypt(nonce, sealed, _AAD)
            expiry, size = _HEAD.unpack_from(plain)
            raw_id = plain[_HEAD.size : _HEAD.size + size]
            if len(raw_id) != size or plain[_HEAD.size + size :].strip(b"\x00"):
                raise LinkInvalid("not a consent-center link")
            return expiry, raw_id.decode()
        except (ValueError, InvalidTag, struct.error):
            raise LinkInvalid("not a consent-center link") from None

    def __repr__(self) -> str:
        return "LinkSigner(key=***)"

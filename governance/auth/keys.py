"""API keys: `gp_<key id>_<secret>`, shown once, stored as SHA-256 of the secret.

The secret is 256 random bits, so a fast hash is enough (no password stretching
is needed against guessing); comparison is constant-time.
"""

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

_KEY = re.compile(r"gp_([0-9a-f]{16})_([A-Za-z0-9_-]{43})")
# Compared against when the key id is unknown, so that a miss costs what a hit costs.
_DUMMY_HASH = hashlib.sha256(b"no-such-key").hexdigest()


@dataclass(frozen=True)
class IssuedKey:
    """A freshly issued key: `token` is shown once and never stored."""

    key_id: str
    token: str
    key_hash: str

    def __repr__(self) -> str:
        return f"IssuedKey(key_id={self.key_id!r}, token=***)"


def issue_key() -> IssuedKey:
    """Generate a new random key."""
    key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    return IssuedKey(key_id, f"gp_{key_id}_{secret}", hash_secret(secret))


def hash_secret(secret: str) -> str:
    """The stored form of a key's secret part."""
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_token(token: str) -> tuple[str, str] | None:
    """Split a presented token into (key id, secret), or None if malformed."""
    match = _KEY.fullmatch(token)
    return (match.group(1), match.group(2)) if match else None


def secret_matches(secret: str, stored_hash: str | None) -> bool:
    """Constant-time check of a presented secret against the stored hash."""
    ok = hmac.compare_digest(hash_secret(secret), stored_hash or _DUMMY_HASH)
    return ok and stored_hash is not None

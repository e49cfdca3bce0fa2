"""API keys: issued once, stored as a hash, checked in constant time."""

import re

from governance.auth.keys import issue_key, parse_token, secret_matches


def test_issued_key_has_the_documented_shape():
    """Keys look like gp_<16 hex>_<43 url-safe chars> and repr hides them."""
    key = issue_key()

    assert re.fullmatch(r"gp_[0-9a-f]{16}_[A-Za-z0-9_-]{43}", key.token)
    assert key.token not in repr(key)


def test_stored_hash_does_not_contain_the_secret():
    """Only a digest of the secret is kept."""
    key = issue_key()
    secret = key.token.split("_", 2)[2]

    assert secret not in key.key_hash
    assert secret_matches(secret, key.key_hash)


def test_when_secret_differs_then_it_does_not_match():
    """A wrong secret fails, also when no caller was found."""
    key = issue_key()

    assert not secret_matches("x" * 43, key.key_hash)
    assert not secret_matches(key.token.split("_", 2)[2], None)


def test_when_token_malformed_then_not_parsed():
    """Anything not shaped like a key is refused before any lookup."""
    assert parse_token("Bearer abc") is None
    assert parse_token("gp_0123456789abcdef_short") is None
    assert parse_token("gp_0123456789abcdef_" + "a" * 43 + "\n") is None

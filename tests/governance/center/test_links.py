"""Consent-center link tokens: sealed, expiring, naming nobody in clear."""

import base64
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from governance.center.links import (
    LinkExpired,
    LinkInvalid,
    LinkSigner,
    link_expiry,
)

KEY = bytes(range(32))
NOW = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
TTL = timedelta(minutes=30)
subject_ids = st.text(min_size=1, max_size=128)


def raw(token):
    """The token's bytes."""
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))


def encode(data):
    """Bytes as a token."""
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


class TestLinkSigner:
    @given(subject_ids)
    def test_when_opened_before_expiry_then_the_subject_comes_back(self, subject_id):
        """Any subject id survives the round trip."""
        signer = LinkSigner(KEY)

        token = signer.issue(subject_id, ttl=TTL, now=NOW)

        assert signer.open(token, now=NOW + TTL - timedelta(seconds=1)) == subject_id

    def test_when_expiry_reached_then_expired(self):
        """The link stops working at its expiry instant."""
        signer = LinkSigner(KEY)
        token = signer.issue("C000001", ttl=TTL, now=NOW)

        with pytest.raises(LinkExpired):
            signer.open(token, now=NOW + TTL)

    def test_expiry_is_whole_seconds_in_utc(self):
        """The expiry the API reports is the one sealed in the token."""
        now = datetime(2026, 3, 1, 10, 0, 0, 900_000, tzinfo=UTC)

        assert link_expiry(now, TTL) == datetime(2026, 3, 1, 10, 30, tzinfo=UTC)

    @given(subject_ids, st.data())
    def test_when_any_byte_changes_then_invalid(self, subject_id, data):
        """Flipping any bit of any byte makes the token invalid, expired or not."""
        signer = LinkSigner(KEY)
        sealed = bytearray(raw(signer.issue(subject_id, ttl=TTL, now=NOW)))
        index = data.draw(st.integers(0, len(sealed) - 1))
        sealed[index] ^= 1 << data.draw(st.integers(0, 7))

        with pytest.raises(LinkInvalid):
            signer.open(encode(bytes(sealed)), now=NOW + 2 * TTL)

    @pytest.mark.parametrize(
        "token",
        ["", "!!!", "AQ", "A" * 200, "x" * 2000, encode(b"\x02" + b"\0" * 60)],
        ids=["empty", "not-base64", "too-short", "zeros", "too-long", "other-version"],
    )
    def test_when_token_is_malformed_then_invalid(self, token):
        """Garbage never raises anything but LinkInvalid."""
        with pytest.raises(LinkInvalid):
            LinkSigner(KEY).open(token, now=NOW)

    def test_when_another_key_sealed_it_then_invalid(self):
        """A token opens only with the key that sealed it."""
        token = LinkSigner(b"\x01" * 32).issue("C000001", ttl=TTL, now=NOW)

        with pytest.raises(LinkInvalid):
            LinkSigner(KEY).open(token, now=NOW)

    def test_token_hides_the_subject_id_and_its_exact_length(self):
        """The payload is encrypted and padded: ids of similar length give equal sizes."""
        signer = LinkSigner(KEY)

        short = signer.issue("C1", ttl=TTL, now=NOW)
        longer = signer.issue("C000000001", ttl=TTL, now=NOW)

        assert b"C000000001" not in raw(longer)
        assert len(short) == len(longer)
        assert signer.issue("C1", ttl=TTL, now=NOW) != short  # fresh nonce each time

    @pytest.mark.parametrize(("subject_id", "ttl"), [("", TTL), ("C1", timedelta(0))])
    def test_when_issue_arguments_are_void_then_value_error(self, subject_id, ttl):
        """No link for nobody, and none that is born expired."""
        with pytest.raises(ValueError, match="link"):
            LinkSigner(KEY).issue(subject_id, ttl=ttl, now=NOW)

    def test_repr_hides_the_key(self):
        """The key never shows in a repr or a log line."""
        assert repr(LinkSigner(KEY)) == "LinkSigner(key=***)"

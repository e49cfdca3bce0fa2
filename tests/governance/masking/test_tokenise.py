"""`tokenise`: deterministic AES-SIV tokens, per domain, versioned, reversible."""

import base64
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from governance.errors import MaskingParamsError
from governance.masking.operators.tokenise import (
    Detokenised,
    TokenError,
    Tokenise,
)
from governance.types import FieldFact

EMAIL = FieldFact("email", "contact.email", False)
PHONE = FieldFact("mobile", "contact.phone", False)
V1, V2 = bytes(range(32)), bytes(range(32, 64))
SERVICE = Tokenise(keys={"v1": V1}, current="v1", domain="customer_service")


class TestTokenise:
    def test_token_shape_names_the_key_version(self):
        """A token is `tk<version>_` and url-safe base64, and hides the value."""
        token = SERVICE.apply("zhang.wei@mail.example", EMAIL)

        assert re.fullmatch(r"tk1_[A-Za-z0-9_-]+", token)
        assert "zhang" not in token

    def test_when_same_value_then_same_token(self):
        """Tokenising is deterministic: equal values give equal tokens in a domain."""
        again = Tokenise(keys={"v1": V1}, current="v1", domain="customer_service")

        assert SERVICE.apply("a@mail.example", EMAIL) == again.apply(
            "a@mail.example", EMAIL
        )

    def test_when_category_differs_then_token_differs(self):
        """Equal strings of different kinds give different tokens."""
        assert SERVICE.apply("12345", EMAIL) != SERVICE.apply("12345", PHONE)

    def test_when_detokenised_then_category_and_value_back(self):
        """A token opens to the category and value it was made from."""
        token = SERVICE.apply("zhang.wei@mail.example", EMAIL)

        assert SERVICE.detokenise(token) == Detokenised(
            "contact.email", "zhang.wei@mail.example"
        )

    def test_integers_stay_integers(self):
        """An integer comes back as the same integer, not its digits."""
        token = SERVICE.apply(13800138000, PHONE)

        assert SERVICE.detokenise(token).value == 13800138000

    def test_none_stays_none(self):
        """A missing value stays missing."""
        assert SERVICE.apply(None, EMAIL) is None

    def test_repr_hides_the_keys(self):
        """No key material shows in a repr."""
        assert V1.hex() not in repr(SERVICE)
        assert "***" in repr(SERVICE)


class TestDomainsAndRotation:
    def test_when_domain_differs_then_token_differs_and_does_not_open(self):
        """Another domain can neither join on tokens nor open them."""
        analytics = Tokenise(keys={"v1": V1}, current="v1", domain="analytics")
        token = SERVICE.apply("a@mail.example", EMAIL)

        assert analytics.apply("a@mail.example", EMAIL) != token
        with pytest.raises(TokenError):
            analytics.detokenise(token)

    def test_when_rotated_then_new_tokens_use_new_version_and_old_ones_still_open(
        self,
    ):
        """After a rotation tokens carry v2; tokens made under v1 still open."""
        old_token = SERVICE.apply("a@mail.example", EMAIL)
        rotated = Tokenise(
            keys={"v1": V1, "v2": V2}, current="v2", domain="customer_service"
        )

        new_token = rotated.apply("a@mail.example", EMAIL)

        assert new_token.startswith("tk2_")
        assert rotated.detokenise(old_token).value == "a@mail.example"
        assert rotated.detokenise(new_token).value == "a@mail.example"

    def test_when_key_version_retired_then_its_tokens_do_not_open(self):
        """Removing a key version makes its tokens unreadable."""
        token = SERVICE.apply("a@mail.example", EMAIL)
        only_v2 = Tokenise(keys={"v2": V2}, current="v2", domain="customer_service")

        with pytest.raises(TokenError):
            only_v2.detokenise(token)

    @pytest.mark.parametrize(
        ("keys", "current", "domain"),
        [
            ({"v1": V1}, "v2", "customer_service"),
            ({"v1": b"short"}, "v1", "customer_service"),
            ({"one": V1}, "one", "customer_service"),
            ({"v1": V1}, "v1", "Customer Service"),
        ],
        ids=["current-missing", "short-key", "bad-version", "bad-domain"],
    )
    def test_when_params_invalid_then_refused_at_construction(
        self, keys, current, domain
    ):
        """Bad keys, versions or domains fail when the operator is built."""
        with pytest.raises(MaskingParamsError):
            Tokenise(keys=keys, current=current, domain=domain)


def _altered(token: str) -> str:
    """The token with one character in the middle of its ciphertext changed."""
    at = len(token) // 2
    return token[:at] + ("A" if token[at] != "A" else "B") + token[at + 1 :]


class TestBadTokens:
    @pytest.mark.parametrize(
        "make",
        [
            lambda t: "",
            lambda t: "tk1_",
            lambda t: "pv1_0123456789abcdef01234567",
            lambda t: t.replace("tk1_", "tk9_"),
            lambda t: t.replace("tk1_", "tk_"),
            lambda t: t + "=",
            lambda t: t + "A",
            lambda t: _altered(t),
            lambda t: t[:-4],
            lambda t: "tk1_" + base64.urlsafe_b64encode(b"x" * 40).decode(),
            lambda t: "tk1_" + "A" * 9000,
            lambda t: "tk1_\u00e9\u00e9",
        ],
        ids=[
            "empty",
            "prefix-only",
            "a-pseudonym",
            "unknown-version",
            "no-version",
            "padding",
            "extra-char",
            "altered",
            "truncated",
            "forged",
            "huge",
            "non-ascii",
        ],
    )
    def test_when_token_bad_then_token_error_without_the_token(self, make):
        """Anything but an intact token of this domain is refused, never echoed."""
        bad = make(SERVICE.apply("zhang.wei@mail.example", EMAIL))

        with pytest.raises(TokenError) as caught:
            SERVICE.detokenise(bad)

        assert str(caught.value) == "not a token of this domain"


class TestRoundTrip:
    @given(st.one_of(st.text(max_size=200), st.integers()))
    def test_detokenise_inverts_tokenise(self, value):
        """Tokenise then detokenise is the identity, for any text (surrogates too) or int."""
        token = SERVICE.apply(value, EMAIL)

        assert SERVICE.detokenise(token) == Detokenised("contact.email", value)

    @given(st.text(min_size=8, max_size=60))
    def test_token_never_contains_the_value(self, value):
        """The token's body is ciphertext: the value never shows in it."""
        token = SERVICE.apply(value, EMAIL)

        assert value not in token

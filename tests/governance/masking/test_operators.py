"""Masking operators and `mask_record`: the policy's obligations carried out."""

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from governance.errors import MaskingParamsError
from governance.masking.apply import mask_record
from governance.masking.operators.keep import Keep
from governance.masking.operators.mask import Mask
from governance.masking.operators.pseudonymise import Pseudonymise
from governance.types import FieldFact, Obligation

PHONE = FieldFact("mobile", "contact.phone", False)
NOTE = FieldFact("note", "text.free", False)
KEY = bytes(range(32))
OPERATORS = {
    Obligation.KEEP: Keep(),
    Obligation.MASK: Mask(),
    Obligation.PSEUDONYMISE: Pseudonymise(key=KEY, version="v1"),
}


class TestPseudonymise:
    def test_when_same_key_then_same_pseudonym(self):
        """A value maps to one pseudonym under one key, so pseudonymised data still joins."""
        other = Pseudonymise(key=KEY, version="v1")

        assert OPERATORS[Obligation.PSEUDONYMISE].apply(
            "13800138000", PHONE
        ) == other.apply("13800138000", PHONE)

    def test_when_key_differs_then_pseudonym_differs(self):
        """Another key gives unrelated pseudonyms."""
        other = Pseudonymise(key=bytes(32), version="v2")

        first = OPERATORS[Obligation.PSEUDONYMISE].apply("13800138000", PHONE)
        second = other.apply("13800138000", PHONE)

        assert first != second
        assert second.startswith("pv2_")

    def test_when_category_differs_then_pseudonym_differs(self):
        """Equal strings of different kinds do not collide."""
        op = OPERATORS[Obligation.PSEUDONYMISE]

        assert op.apply("12345", PHONE) != op.apply("12345", NOTE)

    @pytest.mark.parametrize(
        ("key", "version"),
        [(b"short", "v1"), (KEY, "v-1"), (KEY, "")],
        ids=["short-key", "bad-version", "no-version"],
    )
    def test_when_params_invalid_then_refused_before_use(self, key, version):
        """Invalid parameters raise before any value is touched."""
        with pytest.raises(MaskingParamsError):
            Pseudonymise(key=key, version=version)

    def test_repr_hides_the_key(self):
        """The key never shows in a repr (logs, tracebacks)."""
        assert KEY.hex() not in repr(OPERATORS[Obligation.PSEUDONYMISE])
        assert "***" in repr(OPERATORS[Obligation.PSEUDONYMISE])

    @given(st.text(min_size=1, max_size=40))
    def test_pseudonym_never_contains_the_value(self, value):
        """A pseudonym is a fixed-shape token, whatever the value."""
        assert re.fullmatch(
            r"pv1_[0-9a-f]{24}", OPERATORS[Obligation.PSEUDONYMISE].apply(value, PHONE)
        )


class TestMask:
    def test_when_category_has_display_mask_then_it_is_used(self):
        """A phone gets the phone mask."""
        assert Mask().apply("13812345678", PHONE) == "138****5678"

    def test_when_category_has_no_display_mask_then_nothing_is_revealed(self):
        """Masking fails safe: an unknown kind becomes `***`, never the raw value."""
        assert Mask().apply("客户来电 13812345678", NOTE) == "***"

    def test_none_stays_none(self):
        """A missing value stays missing rather than becoming a mask."""
        assert Mask().apply(None, PHONE) is None


class TestMaskRecord:
    def test_when_withhold_or_no_obligation_then_field_absent(self):
        """Withheld fields, and fields the decision forgot, never leave."""
        fields = {"mobile": PHONE, "note": NOTE, "extra": NOTE}
        record = {"mobile": "13812345678", "note": "hello", "extra": "x"}

        out = mask_record(
            record,
            obligations={"mobile": Obligation.MASK, "note": Obligation.WITHHOLD},
            fields=fields,
            operators=OPERATORS,
        )

        assert out == {"mobile": "138****5678"}

    def test_when_keep_then_value_unchanged(self):
        """Keep passes the stored value through."""
        out = mask_record(
            {"mobile": "13812345678"},
            obligations={"mobile": Obligation.KEEP},
            fields={"mobile": PHONE},
            operators=OPERATORS,
        )

        assert out == {"mobile": "13812345678"}

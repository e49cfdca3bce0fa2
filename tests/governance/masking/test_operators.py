"""Masking operators one by one, and `mask_record`: the policy's obligations carried out."""

import re
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from governance.errors import MaskingParamsError
from governance.masking.apply import mask_record
from governance.masking.operators.base import WITHHELD
from governance.masking.operators.generalise import Generalise
from governance.masking.operators.keep import Keep
from governance.masking.operators.mask import Mask
from governance.masking.operators.pseudonymise import Pseudonymise
from governance.masking.operators.withhold import Withhold
from governance.masking.params import GeneraliseParams, MaskParams
from governance.types import FieldFact, Obligation

PHONE = FieldFact("mobile", "contact.phone", False)
CARD = FieldFact("card", "financial.bank_card", False)
EMAIL = FieldFact("email", "contact.email", False)
BIRTH = FieldFact("birth_date", "identity.birth_date", False)
NOTE = FieldFact("note", "text.free", False)
KEY = bytes(range(32))
TODAY = date(2026, 1, 1)
OPERATORS = {
    Obligation.KEEP: Keep(),
    Obligation.MASK: Mask(),
    Obligation.WITHHOLD: Withhold(),
    Obligation.PSEUDONYMISE: Pseudonymise(key=KEY, version="v1", domain="analytics"),
}


class TestPseudonymise:
    def test_when_same_key_and_domain_then_same_pseudonym(self):
        """A value maps to one pseudonym under one key and domain, so data still joins."""
        other = Pseudonymise(key=KEY, version="v1", domain="analytics")

        assert OPERATORS[Obligation.PSEUDONYMISE].apply(
            "13800138000", PHONE
        ) == other.apply("13800138000", PHONE)

    def test_when_domain_differs_then_pseudonym_differs(self):
        """Two domains cannot join on pseudonyms of the same value."""
        other = Pseudonymise(key=KEY, version="v1", domain="partner_sharing")

        first = OPERATORS[Obligation.PSEUDONYMISE].apply("13800138000", PHONE)
        second = other.apply("13800138000", PHONE)

        assert first != second

    def test_when_key_rotated_then_pseudonym_differs_and_names_its_version(self):
        """A new key version gives unrelated pseudonyms, recognisable by their prefix."""
        rotated = Pseudonymise(key=bytes(32), version="v2", domain="analytics")

        first = OPERATORS[Obligation.PSEUDONYMISE].apply("13800138000", PHONE)
        second = rotated.apply("13800138000", PHONE)

        assert first != second
        assert first.startswith("pv1_")
        assert second.startswith("pv2_")

    def test_when_category_differs_then_pseudonym_differs(self):
        """Equal strings of different kinds do not collide."""
        op = OPERATORS[Obligation.PSEUDONYMISE]

        assert op.apply("12345", PHONE) != op.apply("12345", NOTE)

    @pytest.mark.parametrize(
        ("key", "version", "domain"),
        [
            (b"short", "v1", "analytics"),
            (KEY, "v-1", "analytics"),
            (KEY, "", "analytics"),
            (KEY, "v1", "Analytics Team"),
            (KEY, "v1", ""),
        ],
        ids=["short-key", "bad-version", "no-version", "bad-domain", "no-domain"],
    )
    def test_when_params_invalid_then_refused_before_use(self, key, version, domain):
        """Invalid parameters raise before any value is touched."""
        with pytest.raises(MaskingParamsError):
            Pseudonymise(key=key, version=version, domain=domain)

    def test_repr_hides_the_key(self):
        """The key never shows in a repr (logs, tracebacks)."""
        op = OPERATORS[Obligation.PSEUDONYMISE]

        assert KEY.hex() not in repr(op)
        assert "***" in repr(op)

    @given(st.text(min_size=1, max_size=40))
    def test_pseudonym_is_a_fixed_shape_token(self, value):
        """A pseudonym is a fixed-shape token, whatever the value (lone surrogates too)."""
        pseudonym = OPERATORS[Obligation.PSEUDONYMISE].apply(value, PHONE)

        assert re.fullmatch(r"pv1_[0-9a-f]{24}", pseudonym)

    def test_none_stays_none(self):
        """A missing value stays missing."""
        assert OPERATORS[Obligation.PSEUDONYMISE].apply(None, PHONE) is None


class TestMask:
    def test_when_category_has_display_mask_then_it_is_used(self):
        """A phone gets the phone mask."""
        assert Mask().apply("13812345678", PHONE) == "138****5678"

    def test_when_category_has_no_display_mask_then_nothing_is_revealed(self):
        """Masking fails safe: an unknown kind becomes `***`, never the raw value."""
        assert Mask().apply("客户来电 13812345678", NOTE) == "***"

    def test_when_params_configured_then_they_are_used(self):
        """Configured parameters replace the category's defaults."""
        mask = Mask(
            {
                "contact.phone": MaskParams("mobile", keep_head=0, char="#"),
                "financial.bank_card": MaskParams("bank_card", keep_head=6),
                "text.free": MaskParams("email"),
            }
        )

        assert mask.apply("13812345678", PHONE) == "#######5678"
        assert mask.apply("6222020200112233445", CARD) == "622202*********3445"
        assert mask.apply("zhang.wei@mail.example", NOTE) == "z***@mail.example"
        assert mask.apply("zhang.wei@mail.example", EMAIL) == "z***@mail.example"

    def test_none_stays_none(self):
        """A missing value stays missing rather than becoming a mask."""
        assert Mask().apply(None, PHONE) is None

    def test_non_string_values_are_masked_as_text(self):
        """A number stored as an integer is masked like its digits."""
        assert Mask().apply(13812345678, PHONE) == "138****5678"


class TestGeneralise:
    def test_defaults_by_category(self):
        """Birth dates become years and addresses their city; other kinds become None."""
        op = Generalise(today=lambda: TODAY)
        address = FieldFact("address", "contact.address", False)

        assert op.apply("1990-03-07", BIRTH) == "1990"
        assert op.apply("浙江省杭州市西湖区文三路100号", address) == "浙江省杭州市"
        assert op.apply("13812345678", PHONE) is None

    def test_when_configured_then_the_form_is_used(self):
        """A configured form replaces the default."""
        op = Generalise(
            {"identity.birth_date": GeneraliseParams("age_band", bands=(18, 30))},
            today=lambda: TODAY,
        )

        assert op.apply("1990-03-07", BIRTH) == "30+"
        assert op.apply("2000-01-01", BIRTH) == "18-29"


class TestWithhold:
    @given(st.one_of(st.none(), st.text(), st.integers()))
    def test_nothing_leaves(self, value):
        """Whatever the value, withhold answers the sentinel that drops the field."""
        assert Withhold().apply(value, PHONE) is WITHHELD


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

    def test_when_obligation_has_no_operator_then_field_absent(self):
        """An obligation the wiring has no operator for (redact_text) withholds."""
        out = mask_record(
            {"note": "回拨13812345678"},
            obligations={"note": Obligation.REDACT_TEXT},
            fields={"note": NOTE},
            operators=OPERATORS,
        )

        assert out == {}

    def test_when_keep_then_value_unchanged(self):
        """Keep passes the stored value through."""
        out = mask_record(
            {"mobile": "13812345678"},
            obligations={"mobile": Obligation.KEEP},
            fields={"mobile": PHONE},
            operators=OPERATORS,
        )

        assert out == {"mobile": "13812345678"}

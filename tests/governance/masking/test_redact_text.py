"""`redact_text`: free text masked in place by the proxy's redactor, failing closed."""

from hypothesis import given
from hypothesis import strategies as st
from masking_strategies import allocated_mobiles

from governance.masking.apply import mask_record
from governance.masking.operators.base import WITHHELD
from governance.masking.operators.redact_text import RedactText
from governance.pii.scanner import TextMasker
from governance.types import FieldFact, Obligation

NOTE = FieldFact("service_note", "text.free", False)


class Broken:
    """A redactor that fails on everything."""

    def redact(self, text: str) -> str:
        """Raise, as a scanner with a bug might."""
        raise RuntimeError(text)


class NotText:
    """A redactor that answers with something other than text."""

    def redact(self, text: str) -> str:
        """Return the (text, entities) pair of a scanner wired without adapting it."""
        return (text, [])  # type: ignore[return-value]


OPERATOR = RedactText(TextMasker())  # as the app wires it


class TestRedactText:
    def test_values_are_masked_in_place_and_the_rest_kept(self):
        """The number is masked where it stood; the surrounding words stay readable."""
        note = "客户来电要求改地址，回拨13812345678，已处理"

        actual = OPERATOR.apply(note, NOTE)

        assert actual == "客户来电要求改地址，回拨138****5678，已处理"

    def test_none_stays_none(self):
        """A missing note stays missing."""
        assert OPERATOR.apply(None, NOTE) is None

    def test_when_redactor_fails_then_field_withheld(self, caplog):
        """A scanner error never lets the text through, and is logged without it."""
        note = "回拨13812345678"

        actual = RedactText(Broken()).apply(note, NOTE)

        assert actual is WITHHELD
        assert "13812345678" not in caplog.text

    def test_when_redactor_answers_non_text_then_field_withheld(self):
        """An answer that is not text is not trusted."""
        assert RedactText(NotText()).apply("回拨13812345678", NOTE) is WITHHELD

    def test_when_withheld_then_mask_record_leaves_the_field_out(self):
        """mask_record drops a field whose operator withheld it."""
        out = mask_record(
            {"service_note": "回拨13812345678"},
            obligations={"service_note": Obligation.REDACT_TEXT},
            fields={"service_note": NOTE},
            operators={Obligation.REDACT_TEXT: RedactText(Broken())},
        )

        assert out == {}


class TestRedactTextProperties:
    @given(
        st.lists(
            st.tuples(
                st.sampled_from(["，", "回拨", "客户说 ", "。", ""]), allocated_mobiles
            )
        ),
        st.sampled_from(["", "。", "谢谢"]),
    )
    def test_no_mobile_survives_and_masking_is_idempotent(self, parts, end):
        """No number found survives, and redacting redacted text changes nothing."""
        text = "".join(f"{word}号码{number}" for word, number in parts) + end

        once = OPERATOR.apply(text, NOTE)

        assert all(number not in once for _, number in parts)
        assert OPERATOR.apply(once, NOTE) == once

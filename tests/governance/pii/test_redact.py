"""Laws of `redact` (Hypothesis) and the bad inputs it must survive without a partial mask.

Synthetic values only: mobiles on allocated prefixes with random digits, ID
numbers with valid check characters and made-up birth dates, Luhn-valid card
numbers, ``*.example`` e-mail domains.
"""

import unicodedata
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from governance.pii import EntityType, Scanner, redact, scan
from governance.pii.normalise import normalise
from governance.pii.recognizers.bankcard import luhn_valid
from governance.pii.recognizers.idcard import check_character

FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
INVISIBLE = ("\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\u2060", "\ufeff")
ID = "11010519491231002" + check_character("11010519491231002")  # ends in X
FILLERS = (
    "客户来电",
    "，",
    "。",
    "已处理",
    " ",
    "备注：",
    "谢谢",
    "😊",
    "\n",
    "请尽快发货",
)


@st.composite
def mobiles(draw: st.DrawFn) -> str:
    """An 11-digit mobile on an allocated prefix."""
    prefix = draw(st.sampled_from(["138", "139", "150", "186", "177", "199"]))
    return prefix + draw(st.text("0123456789", min_size=8, max_size=8))


@st.composite
def id_numbers(draw: st.DrawFn) -> str:
    """An 18-digit resident ID with a valid check character."""
    region = draw(st.sampled_from(["110105", "310104", "440306", "330106"]))
    born = draw(st.dates(min_value=date(1940, 1, 1), max_value=date(2020, 12, 31)))
    body = (
        region
        + born.strftime("%Y%m%d")
        + draw(st.text("0123456789", min_size=3, max_size=3))
    )
    return body + check_character(body)


@st.composite
def cards(draw: st.DrawFn) -> str:
    """A Luhn-valid 16-digit UnionPay-style card number."""
    body = "6222" + draw(st.text("0123456789", min_size=11, max_size=11))
    return next(body + d for d in "0123456789" if luhn_valid(body + d))


emails = st.builds(
    "{}@{}.example".format,
    st.text("abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=10),
    st.sampled_from(["mail", "shop", "corp"]),
)


@st.composite
def surface(draw: st.DrawFn, values: st.SearchStrategy[str]) -> str:
    """A value as typed: plain, full-width, or split by an invisible character."""
    value = draw(values)
    form = draw(st.sampled_from(["plain", "full-width", "invisible"]))
    if form == "full-width":
        return value.translate(FULL_WIDTH)
    if form == "invisible" and value.isdigit():
        at = draw(st.integers(1, len(value) - 1))
        return value[:at] + draw(st.sampled_from(INVISIBLE)) + value[at:]
    return value


personal = st.one_of(
    surface(mobiles()), surface(id_numbers()), surface(cards()), emails
)
# Values stand between words or punctuation, as they do in text.
documents = st.lists(
    st.tuples(st.sampled_from(FILLERS), st.one_of(personal, st.sampled_from(FILLERS))),
    min_size=1,
    max_size=8,
).map(lambda parts: "".join(f + v for f, v in parts))


def compact(value: str) -> str:
    """A value as it reads: NFKC, without invisible characters and separators."""
    visible = normalise(value).text
    return "".join(c for c in unicodedata.normalize("NFKC", visible) if c not in " -.")


class TestLaws:
    @given(documents)
    def test_no_value_of_a_detected_entity_is_left_in_the_output(self, text):
        """Neither the value as written nor as it reads survives masking."""
        masked = redact(text).text

        for entity in scan(text):
            value = text[entity.start : entity.end]
            assert value not in masked
            assert compact(value) not in compact(masked)

    @given(st.one_of(documents, st.text(max_size=200)))
    def test_redact_is_idempotent(self, text):
        """Masking masked text changes nothing and finds nothing."""
        once = redact(text).text

        assert redact(once).text == once

    @given(st.one_of(documents, st.text(max_size=200)))
    def test_spans_are_disjoint_sorted_and_the_rest_of_the_text_is_kept(self, text):
        """Everything outside the entities' spans is returned untouched, in order."""
        result = redact(text)

        kept, position = [], 0
        for entity in result.entities:
            assert position <= entity.start < entity.end <= len(text)
            kept.append(text[position : entity.start])
            position = entity.end
        kept.append(text[position:])
        rebuilt = result.text
        for piece in kept:
            assert piece in rebuilt
            rebuilt = rebuilt[rebuilt.index(piece) + len(piece) :]

    @given(
        st.lists(st.tuples(st.sampled_from(FILLERS), personal), min_size=1, max_size=5)
    )
    def test_every_inserted_value_is_found_exactly_where_it_is(self, parts):
        """A mobile, ID, card or e-mail between neutral words is found with its exact span."""
        text, spans = "", []
        for filler, value in parts:
            text += filler + "，"
            spans.append((len(text), len(text) + len(value)))
            text += value + "。"

        assert [(e.start, e.end) for e in scan(text)] == spans


class TestBadInput:
    def test_empty_text(self):
        """Nothing in, nothing out."""
        assert redact("") == ("", [])

    def test_one_mebibyte_of_text_is_scanned_whole(self):
        """A 1 MiB text with thousands of values is masked completely."""
        line = "客户张伟，电话13812345678，邮箱 wei@mail.example。"
        text = line * ((1 << 20) // len(line.encode()))

        result = redact(text)

        assert "13812345678" not in result.text
        assert "wei@mail.example" not in result.text
        assert len(result.entities) == 3 * text.count(line)

    def test_lone_surrogates_and_control_characters_do_not_break_scanning(self):
        """Invalid code points pass through; the number beside them is masked."""
        text = "\ud800电话\x00138\x071234\x1b5678\udfff\x7f"

        result = redact(text)

        assert result.text == "\ud800电话\x00138****5678\udfff\x7f"

    @pytest.mark.parametrize("mark", [*INVISIBLE, "\u202e", "\u2066", "\xad"])
    def test_when_an_invisible_mark_splits_a_number_then_all_of_it_is_masked(
        self, mark
    ):
        """Right-to-left marks and zero-width joiners neither hide a number nor split its mask."""
        text = f"身份证{ID}{mark}，手机138{mark}1234{mark}5678"

        result = redact(text)

        assert result.text == f"身份证110105********002X{mark}，手机138****5678"

    @pytest.mark.parametrize(
        "text",
        ["13812345678", "13812345678，", "，13812345678", "138 1234 5678"],
        ids=["alone", "at-start", "at-end", "grouped-alone"],
    )
    def test_numbers_at_the_text_boundaries_are_masked(self, text):
        """A value touching the start or end of the text is found."""
        assert "138****5678" in redact(text).text

    def test_overlapping_candidates_leave_no_part_unmasked(self):
        """An e-mail whose local part is a mobile is masked as one e-mail, not in pieces."""
        text = "邮箱13812345678@mail.example"

        result = redact(text)

        assert [e.type for e in result.entities] == [EntityType.EMAIL_ADDRESS]
        assert result.text == "邮箱1***@mail.example"

    def test_a_scanner_without_recognizers_finds_nothing(self):
        """Recognizers are pluggable; none means an unchanged text."""
        assert Scanner([]).redact("电话13812345678") == ("电话13812345678", [])

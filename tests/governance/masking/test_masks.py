"""Tests for governance.masking.masks: display masks for Chinese personal data.

All values are synthetic: 138-0013-8000-style mobiles, ID numbers built with
`_resident_id` (valid check digit, made-up birth date and sequence), issuer-free
card numbers and ``*.example`` mail domains.
"""

from collections.abc import Callable

import pytest
from faker import Faker
from hypothesis import given, settings
from hypothesis import strategies as st

from governance.masking.masks import (
    DISPLAY_MASKS,
    mask_address,
    mask_bank_card,
    mask_email,
    mask_generic,
    mask_id_number,
    mask_mobile,
    mask_name,
)

GENERIC = "***"

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK_CODES = "10X98765432"


def _resident_id(body: str) -> str:
    """Return the 17-digit ``body`` followed by its GB 11643 check character."""
    total = sum(int(d) * w for d, w in zip(body, _ID_WEIGHTS, strict=True))
    return body + _ID_CHECK_CODES[total % 11]


ID_18 = _resident_id("11010119900307123")  # ends in "1238" + check digit
ID_18_X = _resident_id("11010519491231002")  # check character is X

MASKS: list[tuple[str, Callable[[str], str]]] = [
    ("mobile", mask_mobile),
    ("id_number", mask_id_number),
    ("name", mask_name),
    ("email", mask_email),
    ("bank_card", mask_bank_card),
    ("address", mask_address),
    ("generic", mask_generic),
]
each_mask = pytest.mark.parametrize(
    "mask", [fn for _, fn in MASKS], ids=[name for name, _ in MASKS]
)

# Few examples per property keeps the whole file well under five seconds.
quick = settings(max_examples=100, deadline=None)


class TestMaskMobile:
    """mask_mobile."""

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            pytest.param("13800138000", "138****8000", id="plain"),
            pytest.param("+8613800138000", "138****8000", id="plus-86"),
            pytest.param("008613800138000", "138****8000", id="0086"),
            pytest.param("8613800138000", "138****8000", id="86"),
            pytest.param("+86 138 0013 8000", "138****8000", id="spaces"),
            pytest.param("138-0013-8000", "138****8000", id="dashes"),
            pytest.param("138.0013.8000", "138****8000", id="dots"),
            pytest.param("１３８００１３８０００", "138****8000", id="full-width"),
            pytest.param(" 19912345678\n", "199****5678", id="199-untrimmed"),
        ],
    )
    def test_when_mainland_mobile_then_middle_four_masked(
        self, value: str, expected: str
    ) -> None:
        """A mainland mobile in any common spelling becomes the masked 11 digits."""
        actual = mask_mobile(value)

        assert expected == actual

    @pytest.mark.parametrize(
        "value",
        [
            pytest.param("12800138000", id="second-digit-2"),
            pytest.param("1380013800", id="ten-digits"),
            pytest.param("138001380001", id="twelve-digits"),
            pytest.param("010-12345678", id="landline"),
            pytest.param("+8513800138000", id="other-country"),
            pytest.param("138****8000", id="already-masked"),
            pytest.param("١٣٨٠٠١٣٨٠٠٠", id="arabic-indic-digits"),
            pytest.param("", id="empty"),
        ],
    )
    def test_when_not_a_mainland_mobile_then_generic(self, value: str) -> None:
        """Anything that is not 11 digits starting with 1[3-9] is hidden entirely."""
        actual = mask_mobile(value)

        assert actual == GENERIC


class TestMaskIdNumber:
    """mask_id_number."""

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            pytest.param(ID_18, f"110101********{ID_18[-4:]}", id="18-digit"),
            pytest.param(ID_18_X, "110105********002X", id="18-with-X"),
            pytest.param(ID_18_X.lower(), "110105********002X", id="18-with-x"),
            pytest.param(
                f" {ID_18[:6]} {ID_18[6:]} ",
                ID_18[:6] + "*" * 8 + ID_18[-4:],
                id="spaced",
            ),
            pytest.param("110101900307123", "110101*****7123", id="15-digit-legacy"),
        ],
    )
    def test_when_resident_id_then_first_six_and_last_four_kept(
        self, value: str, expected: str
    ) -> None:
        """18- and 15-digit IDs keep the region code and the last four characters."""
        actual = mask_id_number(value)

        assert expected == actual

    @pytest.mark.parametrize(
        "value",
        [
            pytest.param(ID_18[:-1], id="17-digit"),
            pytest.param(ID_18 + "0", id="19-digit"),
            pytest.param("11010119900307123Y", id="bad-last-char"),
            pytest.param("X10101199003071238", id="x-not-last"),
            pytest.param("11010119900307****", id="already-masked"),
            pytest.param("", id="empty"),
        ],
    )
    def test_when_not_an_id_number_then_generic(self, value: str) -> None:
        """A value of any other shape is hidden entirely."""
        actual = mask_id_number(value)

        assert actual == GENERIC


class TestMaskName:
    """mask_name."""

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            pytest.param("张三", "张*", id="two-chars"),
            pytest.param("张小明", "张**", id="three-chars"),
            pytest.param("欧阳娜娜", "欧阳**", id="compound-surname"),
            pytest.param("司马光", "司马*", id="compound-surname-short"),
            pytest.param("诸葛亮", "诸葛*", id="compound-zhuge"),
            pytest.param("欧阳", "欧*", id="compound-alone-is-surname-plus-given"),
            pytest.param("王", "*", id="single-char"),
            pytest.param(" 李 四 ", "李*", id="spaces-ignored"),
            pytest.param("Alice Example", "A***********", id="latin"),
            pytest.param("Q", "*", id="single-latin"),
        ],
    )
    def test_when_name_then_only_surname_or_initial_kept(
        self, value: str, expected: str
    ) -> None:
        """Names keep the surname (Chinese) or the initial (Latin), nothing else."""
        actual = mask_name(value)

        assert expected == actual

    @pytest.mark.parametrize(
        "value",
        [
            pytest.param("", id="empty"),
            pytest.param("   ", id="blank"),
            pytest.param("1abc", id="starts-with-digit"),
            pytest.param("张*", id="already-masked"),
        ],
    )
    def test_when_not_a_name_then_generic(self, value: str) -> None:
        """Empty, non-alphabetic or already masked names are hidden entirely."""
        actual = mask_name(value)

        assert actual == GENERIC


class TestMaskEmail:
    """mask_email."""

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            pytest.param("zhangsan@example.com", "z***@example.com", id="plain"),
            pytest.param("a@mail.example", "a***@mail.example", id="one-char-local"),
            pytest.param("li.si+tag@cn.example", "l***@cn.example", id="dots-and-tag"),
            pytest.param(" w@x.example ", "w***@x.example", id="untrimmed"),
            pytest.param(
                "ｗａｎｇ＠ｘ．ｅｘａｍｐｌｅ", "w***@x.example", id="full-width"
            ),
        ],
    )
    def test_when_email_then_first_char_and_domain_kept(
        self, value: str, expected: str
    ) -> None:
        """The local part shrinks to its first character and exactly three stars."""
        actual = mask_email(value)

        assert expected == actual

    @pytest.mark.parametrize(
        "value",
        [
            pytest.param("zhangsan", id="no-at"),
            pytest.param("@example.com", id="no-local"),
            pytest.param("a@localhost", id="dotless-domain"),
            pytest.param("a@@x.example", id="double-at"),
            pytest.param("a b@x.example", id="space-in-local"),
            pytest.param("a@x..example", id="empty-label"),
            pytest.param("z***@example.com", id="already-masked"),
        ],
    )
    def test_when_not_an_email_then_generic(self, value: str) -> None:
        """Invalid or already masked addresses are hidden entirely."""
        actual = mask_email(value)

        assert actual == GENERIC


class TestMaskBankCard:
    """mask_bank_card."""

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            pytest.param("6222021234567890123", "*" * 15 + "0123", id="19-digit"),
            pytest.param("4111 1111 1111 1111", "*" * 12 + "1111", id="spaced-16"),
            pytest.param("5555-5555-5555-4444", "*" * 12 + "4444", id="dashed-16"),
            pytest.param("123456789012", "*" * 8 + "9012", id="12-digit-minimum"),
        ],
    )
    def test_when_card_number_then_only_last_four_kept(
        self, value: str, expected: str
    ) -> None:
        """Every digit but the last four becomes a star and separators vanish."""
        actual = mask_bank_card(value)

        assert expected == actual

    @pytest.mark.parametrize(
        "value",
        [
            pytest.param("12345678901", id="11-digit"),
            pytest.param("12345678901234567890", id="20-digit"),
            pytest.param("4111.1111.1111.1111", id="dots-not-separators"),
            pytest.param("4111 1111 1111 111a", id="letter"),
            pytest.param("*" * 12 + "1111", id="already-masked"),
        ],
    )
    def test_when_not_a_card_number_then_generic(self, value: str) -> None:
        """Numbers of the wrong length or with other characters are hidden entirely."""
        actual = mask_bank_card(value)

        assert actual == GENERIC


class TestMaskAddress:
    """mask_address."""

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            pytest.param(
                "浙江省杭州市西湖区文三路 100号", "浙江省杭州市", id="province-city"
            ),
            pytest.param("北京市朝阳区建国路1号", "北京市", id="municipality"),
            pytest.param(
                "重庆市渝中区解放碑1号", "重庆市", id="municipality-chongqing"
            ),
            pytest.param(
                "新疆维吾尔自治区乌鲁木齐市天山区光明路1号",
                "新疆维吾尔自治区乌鲁木齐市",
                id="autonomous-region",
            ),
            pytest.param(
                "内蒙古自治区呼和浩特市新城区1号",
                "内蒙古自治区呼和浩特市",
                id="inner-mongolia",
            ),
            pytest.param(
                "吉林省延边朝鲜族自治州延吉市1号",
                "吉林省延边朝鲜族自治州",
                id="autonomous-prefecture",
            ),
            pytest.param(
                "黑龙江省大兴安岭地区漠河市1号", "黑龙江省大兴安岭地区", id="prefecture"
            ),
            pytest.param(
                "内蒙古自治区锡林郭勒盟锡林浩特市",
                "内蒙古自治区锡林郭勒盟",
                id="league",
            ),
            pytest.param(
                "湖北省神农架林区松柏镇1号", "湖北省神农架林区", id="forestry-district"
            ),
            pytest.param(
                "香港特别行政区中西区皇后大道中1号", "香港特别行政区", id="sar"
            ),
            pytest.param(
                "中国浙江省杭州市西湖区1号", "浙江省杭州市", id="country-prefix"
            ),
            pytest.param(
                "河北省淑珍市高明袁街W座 123456", "河北省淑珍市", id="faker-city"
            ),
            pytest.param(
                "内蒙古自治区欢县徐汇韦街b座 469074",
                "内蒙古自治区欢县",
                id="faker-county",
            ),
            pytest.param(
                "北京市西峰区海门路A座 100000", "北京市", id="faker-municipality"
            ),
        ],
    )
    def test_when_address_then_province_and_city_kept(
        self, value: str, expected: str
    ) -> None:
        """Everything below the city level is dropped."""
        actual = mask_address(value)

        assert expected == actual

    @pytest.mark.parametrize(
        "value",
        [
            pytest.param("杭州市西湖区文三路100号", id="no-province"),
            pytest.param("浙江省西湖区文三路100号", id="no-city"),
            pytest.param("浙江省杭州市", id="nothing-to-drop"),
            pytest.param("北京市", id="bare-municipality"),
            pytest.param("1600 Example Avenue", id="not-chinese"),
            pytest.param("", id="empty"),
        ],
    )
    def test_when_no_province_and_city_then_generic(self, value: str) -> None:
        """Addresses lacking a province and city, or anything below them, are hidden."""
        actual = mask_address(value)

        assert actual == GENERIC

    def test_when_faker_zh_cn_address_then_province_and_city_kept(self) -> None:
        """Seeded Faker zh_CN addresses reduce to a prefix of province + city."""
        fake = Faker("zh_CN")
        fake.seed_instance(20240601)
        for _ in range(200):
            province, city = fake.province(), fake.city()
            street = f"{fake.district()}{fake.street_address()} {fake.postcode()}"
            address = province + city + street

            masked = mask_address(address)

            assert masked.startswith(province), address
            assert (province + city).startswith(masked), address


class TestMaskGeneric:
    """mask_generic and DISPLAY_MASKS."""

    @pytest.mark.parametrize(
        "value",
        [
            pytest.param("", id="empty"),
            pytest.param("x", id="short"),
            pytest.param("13800138000" * 10, id="long"),
        ],
    )
    def test_when_any_value_then_three_stars(self, value: str) -> None:
        """The generic mask hides even the length of the value."""
        actual = mask_generic(value)

        assert actual == GENERIC

    def test_display_masks_map_categories_to_masks(self) -> None:
        """Each data category maps to its display mask."""
        expected = {
            "contact.phone": mask_mobile,
            "identity.id_card": mask_id_number,
            "identity.name": mask_name,
            "contact.email": mask_email,
            "financial.bank_card": mask_bank_card,
            "contact.address": mask_address,
        }

        assert expected == dict(DISPLAY_MASKS)

    def test_display_masks_are_read_only(self) -> None:
        """The mapping cannot be changed at runtime."""
        with pytest.raises(TypeError):
            DISPLAY_MASKS["contact.phone"] = mask_generic  # type: ignore[index]


alphanumeric = st.text(
    alphabet=st.characters(categories=("L", "Nd")), min_size=4, max_size=40
)
pii_like = st.one_of(
    st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True),
    st.from_regex(r"[0-9]{17}[0-9X]|[0-9]{15}", fullmatch=True),
    st.from_regex(r"[0-9]{12,19}", fullmatch=True),
    st.from_regex(r"[a-z0-9]{1,12}@[a-z]{1,10}\.example", fullmatch=True),
    st.from_regex(r"[\u4e00-\u9fa5]{1,4}", fullmatch=True),
    st.builds(
        "{}{}市{}区".format,
        st.sampled_from(["浙江省", "北京市", "新疆维吾尔自治区"]),
        st.from_regex(r"[\u4e00-\u9fa5]{1,4}", fullmatch=True),
        st.from_regex(r"[\u4e00-\u9fa5]{1,4}", fullmatch=True),
    ),
)


class TestMaskProperties:
    """Laws that hold for every mask and any input."""

    @each_mask
    @quick
    @given(value=st.text(max_size=64))
    def test_when_any_text_then_returns_str(
        self, mask: Callable[[str], str], value: str
    ) -> None:
        """No input makes a mask raise, and the result is always a string."""
        actual = mask(value)

        assert isinstance(actual, str)

    @each_mask
    @quick
    @given(value=st.one_of(alphanumeric, pii_like))
    def test_when_letters_or_digits_then_output_never_contains_input(
        self, mask: Callable[[str], str], value: str
    ) -> None:
        """A value of four or more letters or digits never survives masking whole."""
        actual = mask(value)

        assert value not in actual

    @each_mask
    @quick
    @given(value=st.text(max_size=64).filter(lambda s: s.strip("*")))
    def test_when_not_only_stars_then_output_never_contains_input(
        self, mask: Callable[[str], str], value: str
    ) -> None:
        """Only input made of stars alone can reappear in the output."""
        actual = mask(value)

        assert value not in actual

    @each_mask
    @quick
    @given(value=st.one_of(st.text(max_size=64), pii_like))
    def test_when_masked_twice_then_nothing_new_revealed(
        self, mask: Callable[[str], str], value: str
    ) -> None:
        """Masking a masked value yields it again or ``***``, never new characters."""
        once = mask(value)

        twice = mask(once)

        assert twice in (once, GENERIC)
        assert set(twice) - {"*"} <= set(once)

    @quick
    @given(value=st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True))
    def test_when_valid_mobile_then_only_prefix_and_suffix_kept(
        self, value: str
    ) -> None:
        """A valid mobile keeps its first three and last four digits."""
        actual = mask_mobile(value)

        assert f"{value[:3]}****{value[-4:]}" == actual

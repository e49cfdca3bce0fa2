"""Display masks for Chinese personal data.

Contract: every public ``mask_*`` function takes one ``str`` and returns a
``str``. The functions are pure and never raise, whatever the input. A value
that parses as its category is shown in a fixed, partially hidden form (a
mobile number becomes ``138****5678``); a value that does not parse falls back
to `mask_generic`, which returns ``***`` and reveals nothing, not even length.

No mask ever returns the original value, nor a value that still contains the
whole original (raw or NFKC-normalised without whitespace); if the partial
form would, the generic mask is returned instead. As a consequence, masking an
already masked value yields ``***``. The one unavoidable exception is input
made only of ``*`` (or empty), which reveals nothing anyway.

`DISPLAY_MASKS` maps data categories (``contact.phone`` …) to their mask.
"""

import re
import unicodedata
from collections.abc import Callable, Mapping
from functools import wraps
from types import MappingProxyType

__all__ = [
    "DISPLAY_MASKS",
    "mask_address",
    "mask_bank_card",
    "mask_email",
    "mask_generic",
    "mask_id_number",
    "mask_mobile",
    "mask_name",
]

_GENERIC = "***"

# Separators people type inside numbers: whitespace, ASCII and Unicode dashes, dots.
_PHONE_SEPARATORS = re.compile(r"[\s.\-\u2010-\u2015\u2212]")
_CARD_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212]")
_WHITESPACE = re.compile(r"\s+")

_MOBILE = re.compile(r"(?:\+86|0086|86)?(1[3-9][0-9]{9})")
_ID_18 = re.compile(r"[0-9]{17}[0-9X]")
_ID_15 = re.compile(r"[0-9]{15}")
_EMAIL = re.compile(r"([^@\s])[^@\s]*@([^@\s.]+(?:\.[^@\s.]+)+)")
_BANK_CARD = re.compile(r"[0-9]{12,19}")
_HAN_CHARS = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_HAN = re.compile(f"[{_HAN_CHARS}]")

_MUNICIPALITIES = ("北京市", "上海市", "天津市", "重庆市")
_SPECIAL_REGIONS = ("香港特别行政区", "澳门特别行政区")
_PROVINCES = (
    *("河北省", "山西省", "辽宁省", "吉林省", "黑龙江省", "江苏省", "浙江省"),
    *("安徽省", "福建省", "江西省", "山东省", "河南省", "湖北省", "湖南省"),
    *("广东省", "海南省", "四川省", "贵州省", "云南省", "陕西省", "甘肃省"),
    *("青海省", "台湾省", "内蒙古自治区", "广西壮族自治区", "西藏自治区"),
    *("宁夏回族自治区", "新疆维吾尔自治区"),
)
# Municipalities and SARs have no city level, so the province alone is shown.
_PROVINCE_ONLY = re.compile(
    r"(?:中华人民共和国|中国)?(" + "|".join(_MUNICIPALITIES + _SPECIAL_REGIONS) + ")"
)
# A city-level unit: prefecture-level city, autonomous prefecture, prefecture,
# league, forestry district, or a county governed directly by the province.
# Lazy name matching stops at the first suffix, so districts are never shown.
_PROVINCE_AND_CITY = re.compile(
    r"(?:中华人民共和国|中国)?("
    + "|".join(_PROVINCES)
    + f")([{_HAN_CHARS}]{{1,10}}?(?:自治州|地区|林区|盟|市|县))"
)

# Kept as text so it reads like the reference table of compound surnames.
_COMPOUND_SURNAME_TABLE = """
欧阳 太史 端木 上官 司马 东方 独孤 南宫 万俟 闻人 夏侯 诸葛 尉迟 公羊 赫连
澹台 皇甫 宗政 濮阳 公冶 太叔 申屠 公孙 慕容 仲孙 钟离 长孙 宇文 司徒 鲜于
司空 闾丘 子车 亓官 司寇 巫马 公西 颛孙 壤驷 公良 漆雕 乐正 宰父 谷梁 拓跋
夹谷 轩辕 令狐 段干 百里 呼延 东郭 南门 羊舌 微生 公户 公玉 公仪 梁丘 公仲
公上 公门 公山 公坚 左丘 公伯 西门 公祖 第五 公乘 贯丘 公皙 南荣 东里 东宫
仲长 子书 子桑 即墨 达奚 褚师 吴铭 淳于 东门 西郭
"""
_COMPOUND_SURNAMES = frozenset(_COMPOUND_SURNAME_TABLE.split())


def _normalise(value: str) -> str:
    """Return ``value`` NFKC-normalised (full-width digits and signs to ASCII).

    Args:
        value: Any text.

    Returns:
        The normalised text.
    """
    return unicodedata.normalize("NFKC", value)


def _fail_closed(mask: Callable[[str], str]) -> Callable[[str], str]:
    """Make ``mask`` return the generic mask whenever it would reveal the input.

    Args:
        mask: A mask that may return a value containing its input.

    Returns:
        The guarded mask.
    """

    @wraps(mask)
    def guarded(value: str) -> str:
        masked = mask(value)
        compact = _WHITESPACE.sub("", _normalise(value))
        if value in masked or compact in masked:
            return _GENERIC
        return masked

    return guarded


def mask_generic(value: str) -> str:
    """Hide a value completely, including its length.

    Args:
        value: Any text.

    Returns:
        Always ``***``.
    """
    del value  # never read: nothing about it may leak, not even its length
    return _GENERIC


@_fail_closed
def mask_mobile(value: str) -> str:
    """Mask a mainland mobile number as ``138****5678``.

    ``+86``/``0086``/``86`` prefixes, whitespace, dashes, dots and full-width
    digits are accepted; the output is always the bare 11-digit form.

    Args:
        value: The phone number as entered.

    Returns:
        The masked number, or ``***`` if it is not a mainland mobile number.
    """
    digits = _PHONE_SEPARATORS.sub("", _normalise(value))
    match = _MOBILE.fullmatch(digits)
    if match is None:
        return mask_generic(value)
    number = match.group(1)
    return f"{number[:3]}****{number[7:]}"


@_fail_closed
def mask_id_number(value: str) -> str:
    """Mask a resident identity card number, keeping the first 6 and last 4.

    18-digit numbers (last character may be ``X``) become
    ``110101********1234``; legacy 15-digit numbers become
    ``110101*****1234``. The check digit is not verified: a mistyped number
    is still personal data and is masked the same way.

    Args:
        value: The ID number; whitespace is ignored.

    Returns:
        The masked number, or ``***`` if it has neither shape.
    """
    number = _WHITESPACE.sub("", _normalise(value)).upper()
    if _ID_18.fullmatch(number):
        return f"{number[:6]}********{number[-4:]}"
    if _ID_15.fullmatch(number):
        return f"{number[:6]}*****{number[-4:]}"
    return mask_generic(value)


def _surname_length(name: str) -> int:
    """Return how many leading characters of a Chinese name are the surname.

    Args:
        name: A Chinese name without whitespace, at least two characters.

    Returns:
        2 for a compound surname followed by a given name, otherwise 1.
    """
    if len(name) > 2 and name[:2] in _COMPOUND_SURNAMES:
        return 2
    return 1


@_fail_closed
def mask_name(value: str) -> str:
    """Mask a personal name, keeping only the surname or initial.

    Chinese names keep the surname (compound surnames included) and every
    other character becomes ``*``: ``欧阳娜娜`` -> ``欧阳**``. Other alphabetic
    names keep the first letter plus one ``*`` per remaining non-space
    character. A single-character name becomes ``*``.

    Args:
        value: The name as entered.

    Returns:
        The masked name, or ``***`` if it is empty or does not start with a
        letter.
    """
    name = _WHITESPACE.sub("", _normalise(value))
    if not name or not name[0].isalpha():
        return mask_generic(value)
    if len(name) == 1:
        return "*"
    keep = _surname_length(name) if _HAN.match(name) else 1
    return name[:keep] + "*" * (len(name) - keep)


@_fail_closed
def mask_email(value: str) -> str:
    """Mask an email address as ``z***@example.com``.

    Args:
        value: The address as entered.

    Returns:
        The first character of the local part, exactly three ``*``, and the
        domain; or ``***`` if the value is not an address.
    """
    match = _EMAIL.fullmatch(_normalise(value).strip())
    if match is None:
        return mask_generic(value)
    first, domain = match.groups()
    return f"{first}***@{domain}"


@_fail_closed
def mask_bank_card(value: str) -> str:
    """Mask a bank card number, keeping only its last four digits.

    Args:
        value: The card number; whitespace and dashes are removed.

    Returns:
        One ``*`` per hidden digit followed by the last four digits, or
        ``***`` unless the number has 12 to 19 digits.
    """
    digits = _CARD_SEPARATORS.sub("", _normalise(value))
    if not _BANK_CARD.fullmatch(digits):
        return mask_generic(value)
    return "*" * (len(digits) - 4) + digits[-4:]


@_fail_closed
def mask_address(value: str) -> str:
    """Reduce a Chinese address to its province and city.

    ``浙江省杭州市西湖区…`` -> ``浙江省杭州市``. Municipalities and special
    administrative regions keep only their own name (``北京市``). Autonomous
    prefectures, prefectures, leagues and province-governed counties count as
    the city level.

    Args:
        value: The address as entered; a leading ``中国`` is dropped.

    Returns:
        The province and city, or ``***`` if they cannot be found.
    """
    address = _WHITESPACE.sub("", _normalise(value))
    match = _PROVINCE_ONLY.match(address)
    if match is not None:
        return match.group(1)
    match = _PROVINCE_AND_CITY.match(address)
    if match is not None:
        return match.group(1) + match.group(2)
    return mask_generic(value)


DISPLAY_MASKS: Mapping[str, Callable[[str], str]] = MappingProxyType(
    {
        "contact.phone": mask_mobile,
        "identity.id_card": mask_id_number,
        "identity.name": mask_name,
        "contact.email": mask_email,
        "financial.bank_card": mask_bank_card,
        "contact.address": mask_address,
    }
)

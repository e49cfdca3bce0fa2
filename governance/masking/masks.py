"""Display masks for Chinese personal data.

Contract: every public ``mask_*`` function takes one ``str`` (plus keyword
parameters with the Chinese defaults) and returns a ``str``. The functions are
pure and never raise, whatever the input. A value that parses as its category
is shown in a fixed, partially hidden form (a mobile number becomes
``138****5678``); a value that does not parse falls back to `mask_generic`,
which returns ``***`` and reveals nothing, not even length.

The keyword parameters (``keep_head``, ``keep_tail``, ``char``) are checked
once, at startup, by `governance.masking.params.MaskParams`; here they are
trusted, and the guard below holds whatever they are.

No mask ever returns the original value, nor a value that still contains the
whole original (raw, or normalised and compacted as the mask read it: NFKC,
without whitespace or separators); if the partial form would, the generic mask
is returned instead. As a consequence, masking an
already masked value yields ``***``. The one unavoidable exception is input
made only of the mask character (or empty), which reveals nothing anyway.

`DISPLAY_MASKS` maps data categories (``contact.phone`` …) to their default
mask; `MASK_STYLES` names every mask so configuration can pick one by name.
"""

import re
import unicodedata
from collections.abc import Callable, Mapping
from types import MappingProxyType

from governance.masking.regions import HAN_CHARS, compact_address, compact_levels

__all__ = [
    "CATEGORY_STYLES",
    "DISPLAY_MASKS",
    "MASK_STYLES",
    "mask_address",
    "mask_bank_card",
    "mask_email",
    "mask_generic",
    "mask_id_number",
    "mask_mobile",
    "mask_name",
]

_STAR = "*"

# Separators people type inside numbers: whitespace, ASCII and Unicode dashes, dots.
_PHONE_SEPARATORS = re.compile(r"[\s.\-\u2010-\u2015\u2212]")
_CARD_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212]")

_MOBILE = re.compile(r"(?:\+86|0086|86)?(1[3-9][0-9]{9})")
_ID_NUMBER = re.compile(r"[0-9]{17}[0-9X]|[0-9]{15}")
_EMAIL = re.compile(r"([^@\s]+)@([^@\s.]+(?:\.[^@\s.]+)+)")
_BANK_CARD = re.compile(r"[0-9]{12,19}")
_HAN = re.compile(f"[{HAN_CHARS}]")

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
    """Return ``value`` NFKC-normalised (full-width digits and signs to ASCII)."""
    return unicodedata.normalize("NFKC", value)


def _compact(text: str) -> str:
    """Return ``text`` without any whitespace (faster than a regex substitution)."""
    return "".join(text.split())


def _guard(value: str, parsed: str, masked: str, char: str) -> str:
    """Return ``masked``, or the generic mask if it would reveal the whole input.

    Args:
        value: The input as given.
        parsed: The normalised, compacted form the mask read ``value`` as.
        masked: The partial form the mask computed.
        char: The mask character.

    Returns:
        ``masked`` unless it contains ``value`` or ``parsed``.
    """
    if value in masked or parsed in masked:
        return char * 3
    return masked


def _partial(text: str, keep_head: int, keep_tail: int, char: str) -> str:
    """Keep the first ``keep_head`` and last ``keep_tail`` characters, hide the rest."""
    hidden = len(text) - keep_head - keep_tail
    return text[:keep_head] + char * hidden + text[len(text) - keep_tail :]


def mask_generic(value: str, *, char: str = _STAR) -> str:
    """Hide a value completely, including its length.

    Args:
        value: Any text.
        char: The mask character.

    Returns:
        Always three mask characters, ``***`` by default.
    """
    del value  # never read: nothing about it may leak, not even its length
    return char * 3


def mask_mobile(
    value: str, *, keep_head: int = 3, keep_tail: int = 4, char: str = _STAR
) -> str:
    """Mask a mainland mobile number as ``138****5678``.

    ``+86``/``0086``/``86`` prefixes, whitespace, dashes, dots and full-width
    digits are accepted; the output is always the bare 11-digit form.

    Args:
        value: The phone number as entered.
        keep_head: Leading digits shown.
        keep_tail: Trailing digits shown.
        char: The mask character.

    Returns:
        The masked number, or ``***`` if it is not a mainland mobile number.
    """
    digits = _PHONE_SEPARATORS.sub("", _normalise(value))
    match = _MOBILE.fullmatch(digits)
    if match is None:
        return mask_generic(value, char=char)
    return _guard(value, digits, _partial(match[1], keep_head, keep_tail, char), char)


def mask_id_number(
    value: str, *, keep_head: int = 6, keep_tail: int = 4, char: str = _STAR
) -> str:
    """Mask a resident identity card number, keeping the first 6 and last 4.

    18-digit numbers (last character may be ``X``) become
    ``110101********1234``; legacy 15-digit numbers become
    ``110101*****1234``. The check digit is not verified: a mistyped number
    is still personal data and is masked the same way.

    Args:
        value: The ID number; whitespace is ignored.
        keep_head: Leading characters shown (the region code by default).
        keep_tail: Trailing characters shown.
        char: The mask character.

    Returns:
        The masked number, or ``***`` if it has neither shape.
    """
    number = _compact(_normalise(value)).upper()
    if not _ID_NUMBER.fullmatch(number):
        return mask_generic(value, char=char)
    return _guard(value, number, _partial(number, keep_head, keep_tail, char), char)


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


def mask_name(value: str, *, char: str = _STAR) -> str:
    """Mask a personal name, keeping only the surname or initial.

    Chinese names keep the surname (compound surnames included) and every
    other character becomes ``*``: ``欧阳娜娜`` -> ``欧阳**``. Other alphabetic
    names keep the first letter plus one ``*`` per remaining non-space
    character. A single-character name becomes ``*``.

    Args:
        value: The name as entered.
        char: The mask character.

    Returns:
        The masked name, or ``***`` if it is empty or does not start with a
        letter.
    """
    name = _compact(_normalise(value))
    if not name or not name[0].isalpha():
        return mask_generic(value, char=char)
    if len(name) == 1:
        return char
    keep = _surname_length(name) if _HAN.match(name) else 1
    return _guard(value, name, name[:keep] + char * (len(name) - keep), char)


def mask_email(value: str, *, keep_head: int = 1, char: str = _STAR) -> str:
    """Mask an email address as ``z***@example.com``.

    Args:
        value: The address as entered.
        keep_head: Leading characters of the local part shown.
        char: The mask character.

    Returns:
        The first ``keep_head`` characters of the local part, exactly three
        mask characters, and the domain; or ``***`` if the value is not an
        address.
    """
    address = _normalise(value).strip()
    match = _EMAIL.fullmatch(address)
    if match is None:
        return mask_generic(value, char=char)
    local, domain = match.groups()
    return _guard(value, address, f"{local[:keep_head]}{char * 3}@{domain}", char)


def mask_bank_card(
    value: str, *, keep_head: int = 0, keep_tail: int = 4, char: str = _STAR
) -> str:
    """Mask a bank card number, keeping only its last four digits.

    Args:
        value: The card number; whitespace and dashes are removed.
        keep_head: Leading digits shown (the issuer's BIN if 6).
        keep_tail: Trailing digits shown.
        char: The mask character.

    Returns:
        One mask character per hidden digit around the digits kept, or
        ``***`` unless the number has 12 to 19 digits.
    """
    digits = _CARD_SEPARATORS.sub("", _normalise(value))
    if not _BANK_CARD.fullmatch(digits):
        return mask_generic(value, char=char)
    return _guard(value, digits, _partial(digits, keep_head, keep_tail, char), char)


def mask_address(value: str, *, char: str = _STAR) -> str:
    """Reduce a Chinese address to its province and city.

    ``浙江省杭州市西湖区…`` -> ``浙江省杭州市``. Municipalities and special
    administrative regions keep only their own name (``北京市``). Autonomous
    prefectures, prefectures, leagues and province-governed counties count as
    the city level.

    Args:
        value: The address as entered; a leading ``中国`` is dropped.
        char: The mask character of the generic fallback.

    Returns:
        The province and city, or ``***`` if they cannot be found.
    """
    address = compact_address(value)
    city = compact_levels(address, depth="city").city
    if city is None:
        return mask_generic(value, char=char)
    return _guard(value, address, city, char)


MASK_STYLES: Mapping[str, Callable[..., str]] = MappingProxyType(
    {
        "mobile": mask_mobile,
        "id_card": mask_id_number,
        "name": mask_name,
        "email": mask_email,
        "bank_card": mask_bank_card,
        "address": mask_address,
        "generic": mask_generic,
    }
)
"""Every display mask by the name configuration uses (`mask: {style: …}`)."""

CATEGORY_STYLES: Mapping[str, str] = MappingProxyType(
    {
        "contact.phone": "mobile",
        "identity.id_card": "id_card",
        "identity.name": "name",
        "contact.email": "email",
        "financial.bank_card": "bank_card",
        "contact.address": "address",
    }
)
"""The default mask style of each data category; any other category gets ``generic``."""

DISPLAY_MASKS: Mapping[str, Callable[[str], str]] = MappingProxyType(
    {category: MASK_STYLES[style] for category, style in CATEGORY_STYLES.items()}
)
"""The default mask of each data category, with its default parameters."""

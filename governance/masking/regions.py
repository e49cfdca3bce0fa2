"""The administrative levels at the head of a Chinese address: province, city, district.

Contract: `address_levels(text, depth=…)` takes any text and returns an `AddressLevels`
whose levels are *prefixes* of the address after NFKC normalisation, removal of
whitespace and of a leading ``中国``/``中华人民共和国``: ``浙江省``,
``浙江省杭州市``, ``浙江省杭州市西湖区``. A level is only found when every level
above it was, and none below `depth` is looked for; municipalities
(``北京市``) and special administrative regions have no city level, so their
city is the municipality itself. Nothing here ever raises; an address without a
recognisable province has no levels at all.
"""

import re
import unicodedata
from typing import Literal, NamedTuple

HAN_CHARS = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
"""Character-class body of the CJK ideographs (basic, extensions, compatibility)."""

_COUNTRY = r"(?:中华人民共和国|中国)?"
_MUNICIPALITIES = ("北京市", "上海市", "天津市", "重庆市")
_SPECIAL_REGIONS = ("香港特别行政区", "澳门特别行政区")
_PROVINCES = (
    *("河北省", "山西省", "辽宁省", "吉林省", "黑龙江省", "江苏省", "浙江省"),
    *("安徽省", "福建省", "江西省", "山东省", "河南省", "湖北省", "湖南省"),
    *("广东省", "海南省", "四川省", "贵州省", "云南省", "陕西省", "甘肃省"),
    *("青海省", "台湾省", "内蒙古自治区", "广西壮族自治区", "西藏自治区"),
    *("宁夏回族自治区", "新疆维吾尔自治区"),
)
_PROVINCE_ONLY = re.compile(
    _COUNTRY + "(" + "|".join(_MUNICIPALITIES + _SPECIAL_REGIONS) + ")"
)
_PROVINCE = re.compile(_COUNTRY + "(" + "|".join(_PROVINCES) + ")")
# A city-level unit: prefecture-level city, autonomous prefecture, prefecture,
# league, forestry district, or a county governed directly by the province.
# Lazy name matching stops at the first suffix, so districts are never swallowed.
_CITY = re.compile(f"[{HAN_CHARS}]{{1,10}}?(?:自治州|地区|林区|盟|市|县)")
# A county-level unit right after the city: district, county, county-level city, banner.
_DISTRICT = re.compile(f"[{HAN_CHARS}]{{1,10}}?(?:区|县|市|旗)")


class AddressLevels(NamedTuple):
    """The leading levels of one address, each a prefix of the normalised address."""

    province: str | None = None
    city: str | None = None
    district: str | None = None


NO_LEVELS = AddressLevels()


def compact_address(text: str) -> str:
    """The address NFKC-normalised (full-width to ASCII) with all whitespace removed."""
    return "".join(unicodedata.normalize("NFKC", text).split())


def address_levels(
    text: str, *, depth: Literal["city", "district"] = "district"
) -> AddressLevels:
    """Province, city and (down to `depth`) district at the head of `text`."""
    return compact_levels(compact_address(text), depth=depth)


def compact_levels(
    address: str, *, depth: Literal["city", "district"] = "district"
) -> AddressLevels:
    """`address_levels` of an address already passed through `compact_address`."""
    deep = depth == "district"
    match = _PROVINCE_ONLY.match(address)
    if match is not None:
        region = match.group(1)
        return AddressLevels(region, region, _below(region, address, match, deep))
    match = _PROVINCE.match(address)
    if match is None:
        return NO_LEVELS
    province = match.group(1)
    found = _CITY.match(address, match.end())
    if found is None:
        return AddressLevels(province)
    city = province + found.group(0)
    return AddressLevels(province, city, _below(city, address, found, deep))


def _below(above: str, address: str, level: re.Match[str], deep: bool) -> str | None:
    """The district after `level`, when asked for and found."""
    found = _DISTRICT.match(address, level.end()) if deep else None
    return None if found is None else above + found.group(0)

"""Chinese postal addresses down to the street number, estate or room.

An address is a chain of optional administrative units (province, city,
district or county, town or street office) followed by a precise part: a road
and a house number (文三路138号), or an estate with building and room units
(翠苑小区3栋2单元501室). Administrative units alone (浙江省杭州市) are not
precise enough to identify anyone and are not matched. Unit names are Han
characters other than words that introduce an address (在, 到, 寄, 址 …), so
"送到浙江省…" starts at 浙江. Score 0.75.
"""

import re
from collections.abc import Iterator

from governance.pii.context import han_except
from governance.pii.recognizers.base import Recognizer
from governance.pii.types import Entity, EntityType

_STOP = "在到至于是址的与及往住送寄从把给我你他她您请将为了被让"


_N = han_except(_STOP)
_PROVINCE = (
    "(?:北京|天津|上海|重庆)市?|(?:河北|山西|辽宁|吉林|黑龙江|江苏|浙江|安徽|福建|江西|山东"
    "|河南|湖北|湖南|广东|海南|四川|贵州|云南|陕西|甘肃|青海|台湾)省?|内蒙古(?:自治区)?"
    "|广西(?:壮族自治区)?|西藏(?:自治区)?|宁夏(?:回族自治区)?|新疆(?:维吾尔自治区)?"
    "|(?:香港|澳门)(?:特别行政区)?"
)
_ADMIN = (
    rf"(?P<province>{_PROVINCE})?(?P<city>{_N}{{1,7}}?(?:市|自治州|地区|盟))?"
    rf"(?P<district>{_N}{{1,7}}?(?:(?<!小)区|县|旗))?(?P<town>{_N}{{1,7}}?(?:街道|镇|乡))?"
)
_ROAD = rf"{_N}{{1,8}}?(?:大道|大街|路|街|巷|胡同|弄)"
_NUMBER = r"[0-9]{1,5}(?:[-之][0-9]{1,4})?(?:号院|号|弄)"
_ESTATE_SUFFIX = (
    "(?:小区|花园|公寓|大厦|广场|家园|新村|社区|中心|大楼|商城|苑|府|庭|城|园|村)"
)
# A second suffix continues the name: 绿城 + 小区, 金色家园 + 花园.
_ESTATE = rf"{_N}{{1,10}}?{_ESTATE_SUFFIX}{_ESTATE_SUFFIX}?"
_UNITS = r"(?:[0-9A-Za-z]{1,5}(?:号楼|栋|幢|座|单元|层|楼|室|号|户|组))*(?:[0-9]{3,5}(?:室|房)?)?"
_ADDRESS = re.compile(
    rf"{_ADMIN}(?:(?P<road>{_ROAD}{_NUMBER})(?:{_ESTATE})?{_UNITS}"
    rf"|(?P<estate>{_ESTATE})(?P<units>(?:[0-9A-Za-z]{{1,5}}(?:号楼|栋|幢|座|单元|室|组))+)"
    r"(?:[0-9]{3,5}(?:室|房)?)?)"
)
# Every address has one of these; the address regex runs only around them.
_ANCHOR = re.compile(r"[0-9A-Za-z](?:号|栋|幢|座|单元|室|组|弄)")
_BREAKS = "\n。；;！？!?，,、：:"
_BEFORE = 48  # characters before an anchor where its address may start
_AFTER = 64  # characters after an anchor where it may end


class AddressRecognizer(Recognizer):
    """Addresses with a house number, or with admin units and an estate with units."""

    entity_types = (EntityType.CN_ADDRESS,)
    cue_chars = frozenset("号栋幢座单室组弄")

    def find(self, text: str) -> Iterator[Entity]:
        """Yield addresses, each around an anchor (a number followed by 号, 栋, 室 …)."""
        done = 0  # where the last address ended
        for anchor in _ANCHOR.finditer(text):
            if anchor.start() < done:
                continue
            start = max(done, _window_start(text, anchor.start()))
            end = min(len(text), anchor.end() + _AFTER)
            for match in _ADDRESS.finditer(text, start, end):
                if match.end() > anchor.start() and _precise(match):
                    yield Entity(
                        EntityType.CN_ADDRESS, match.start(), match.end(), 0.75
                    )
                    done = match.end()
                    break


def _window_start(text: str, anchor: int) -> int:
    """Where to look for the start of an anchor's address: after the last break."""
    start = max(0, anchor - _BEFORE)
    window = text[start:anchor]
    return start + 1 + max(window.rfind(c) for c in _BREAKS)


def _precise(match: re.Match[str]) -> bool:
    """A road with a number, or an estate with units in a named place."""
    return bool(match["road"]) or any(
        match[unit] for unit in ("province", "city", "district", "town")
    )

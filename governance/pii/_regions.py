"""Administrative division codes (GB/T 2260), for checking ID and USCC numbers.

Read once from python-stdnum's ``cn/loc.dat``: every code ever assigned, in any
year. A resident ID keeps the code of where it was first issued, so a code
retired since (or assigned after the holder's birth) is still valid in an ID.
The same table names the places, which the name recognizer needs: 金华 and
武安 are cities, not a surname and a given name.
"""

import re
from functools import cache
from importlib import resources

_PLACE_SUFFIX = re.compile(
    "(?:自治县|自治旗|自治州|特别行政区|壮族自治区|回族自治区|维吾尔自治区|自治区"
    "|地区|新区|特区|市辖区|市|县|区|旗|盟|省)$"
)
_QUOTED = re.compile(r'(?:province|county)="([^"]+)"')
_YEARS = re.compile(r"\[[^\]]*\]")


@cache
def region_codes() -> frozenset[str]:
    """Every six-digit division code listed, provinces (``330000``) included."""
    codes: set[str] = set()
    province = ""
    text = resources.files("stdnum").joinpath("cn/loc.dat").read_text("utf-8")
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        code = line.split(maxsplit=1)[0]
        if not line[0].isspace() and len(code) == 2:
            province = code
            codes.add(province + "0000")
        elif len(code) == 4 and code.isdigit() and province:
            codes.add(province + code)
    return frozenset(codes)


def valid_region(code: str) -> bool:
    """Whether a six-digit code, or the prefecture it belongs to, was ever assigned.

    IDs issued under a prefecture's "市辖区" carry codes (``620201``) that the
    table lists only at prefecture level (``620200``).
    """
    codes = region_codes()
    return code in codes or code[:4] + "00" in codes


@cache
def province_codes() -> frozenset[str]:
    """The two-digit province-level prefixes (``11`` … ``82``)."""
    return frozenset(code[:2] for code in region_codes())


@cache
def place_names() -> frozenset[str]:
    """Names of provinces, prefectures and counties without their suffix (杭州, 金华, 武安).

    Two- and three-character names only: the ones a name recognizer could
    mistake for a surname and a given name.
    """
    names: set[str] = set()
    text = resources.files("stdnum").joinpath("cn/loc.dat").read_text("utf-8")
    for quoted in _QUOTED.findall(text):
        stem = _PLACE_SUFFIX.sub("", _YEARS.sub("", quoted))
        if 2 <= len(stem) <= 3:
            names.add(stem)
    return frozenset(names)

"""Administrative division codes (GB/T 2260), for checking ID and USCC numbers.

Read once from python-stdnum's ``cn/loc.dat``: every code ever assigned, in any
year. A resident ID keeps the code of where it was first issued, so a code
retired since (or assigned after the holder's birth) is still valid in an ID.
"""

from functools import cache
from importlib import resources


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

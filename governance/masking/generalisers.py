"""Generalisation forms: a value in, a coarser value (or None) out.

Contract: `generaliser(params, today)` returns a pure function from any value to
a ``str`` or ``None``; it never raises. ``None`` means the value does not parse
as the form's kind and nothing about it is shown. Every form is idempotent: a
value already in the form (``1990``, ``30-44``, ``浙江省杭州市``, ``30.3,120.2``,
``100-500``) comes back unchanged.

* `year`: a birth date (`date`, ``1990-03-07``, ``1990/3/7``, ``19900307``,
  ``1990年3月7日``) -> ``1990``;
* `age_band`: a birth date -> its age band on `today()`: ``<14``, ``14-17`` …
  ``60+``;
* `province`, `city`, `district`: a Chinese address -> its leading levels
  (``浙江省杭州市``); a level not found falls back to the one above it;
* `grid`: coordinates ``lat,lon`` (or a pair of numbers) -> both rounded to
  `decimals` places (``30.3,120.2``);
* `band`: an amount -> ``<100``, ``100-500`` (100 <= x < 500) … ``5000+``.
"""

import contextlib
import itertools
import math
import re
import unicodedata
from bisect import bisect_right
from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from governance.masking.params import GeneraliseParams
from governance.masking.regions import AddressLevels, address_levels
from governance.subjects import age_on

Generaliser = Callable[[Any], str | None]

_DATE = re.compile(
    r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[T ].*)?"
)
_COMPACT_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})")
_YEAR = re.compile(r"[12]\d{3}")
_NUMBER = r"[-+]?\d{1,3}(?:\.\d+)?"
_COORDINATES = re.compile(rf"\(?\s*({_NUMBER})\s*,\s*({_NUMBER})\s*\)?")
_MAX_AGE = 150
_ISO_DATE_CHARS = 10


def generaliser(params: GeneraliseParams, today: Callable[[], date]) -> Generaliser:
    """The function that generalises values to `params.to`."""
    if params.to == "year":
        return _year
    if params.to == "age_band":
        return _age_band(params.band_edges, today)
    if params.to == "grid":
        return _grid(params.grid_decimals)
    if params.to == "band":
        return _amount_band(params.band_edges)
    return _address(params.to)


def _text(value: Any) -> str:
    return unicodedata.normalize("NFKC", str(value)).strip()


def _birth_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        return None
    if len(value) == _ISO_DATE_CHARS and value[4] == "-":  # the usual form, fast
        with contextlib.suppress(ValueError):
            return date.fromisoformat(value)
    text = _text(value)
    match = _DATE.fullmatch(text) or _COMPACT_DATE.fullmatch(text)
    if match is None:
        return None
    try:
        return date(*(int(part) for part in match.groups()))
    except ValueError:
        return None


def _year(value: Any) -> str | None:
    if isinstance(value, str) and _YEAR.fullmatch(_text(value)):
        return _text(value)
    birth = _birth_date(value)
    return None if birth is None else f"{birth.year:04d}"


def _band_labels(edges: Sequence[float], *, whole: bool) -> tuple[str, ...]:
    """``<a``, ``a-b`` … ``z+``; whole-number bands show their last member (``14-17``)."""

    def upper(edge: float) -> str:
        return _number(edge - 1) if whole else _number(edge)

    middle = [
        _number(lo) if whole and hi - lo == 1 else f"{_number(lo)}-{upper(hi)}"
        for lo, hi in itertools.pairwise(edges)
    ]
    return (f"<{_number(edges[0])}", *middle, f"{_number(edges[-1])}+")


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def _age_band(edges: Sequence[float], today: Callable[[], date]) -> Generaliser:
    labels = _band_labels(edges, whole=True)

    def age_band(value: Any) -> str | None:
        if value in labels:
            return str(value)
        birth = _birth_date(value)
        if birth is None:
            return None
        age = age_on(birth, today())
        return labels[bisect_right(edges, age)] if 0 <= age <= _MAX_AGE else None

    return age_band


def _amount_band(edges: Sequence[float]) -> Generaliser:
    labels = _band_labels(edges, whole=False)

    def band(value: Any) -> str | None:
        if value in labels:
            return str(value)
        amount = _amount(value)
        return None if amount is None else labels[bisect_right(edges, amount)]

    return band


def _amount(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        amount = float(value)
    else:
        try:
            amount = float(_text(value).replace(",", ""))
        except ValueError:
            return None
    return amount if math.isfinite(amount) else None


def _grid(decimals: int) -> Generaliser:
    def grid(value: Any) -> str | None:
        point = _coordinates(value)
        if point is None:
            return None
        lat, lon = (f"{round(c, decimals):.{decimals}f}" for c in point)
        return f"{lat},{lon}"

    return grid


def _coordinates(value: Any) -> tuple[float, float] | None:
    if isinstance(value, list | tuple) and len(value) == 2:
        parts = [_amount(v) for v in value]
    elif isinstance(value, str) and (match := _COORDINATES.fullmatch(_text(value))):
        parts = [float(g) for g in match.groups()]
    else:
        return None
    lat, lon = parts
    if lat is None or lon is None or abs(lat) > 90 or abs(lon) > 180:
        return None
    return lat, lon


def _address(level: str) -> Generaliser:
    def pick(levels: AddressLevels) -> str | None:
        if level == "province":
            return levels.province
        if level == "city":
            return levels.city or levels.province
        return levels.district or levels.city or levels.province

    depth: Literal["city", "district"] = "district" if level == "district" else "city"

    def address(value: Any) -> str | None:
        return None if value is None else pick(address_levels(str(value), depth=depth))

    return address

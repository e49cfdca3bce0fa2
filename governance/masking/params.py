"""Parameters of the configurable operators (`mask`, `generalise`), checked at startup.

Contract: `mask_params(category, raw)` and `generalise_params(category, raw)`
turn one mapping from the catalog's `masking:` sections into a frozen, valid
value, or raise `MaskingParamsError` naming the parameter and the fault (never
a record's value). Building `MaskParams` or `GeneraliseParams` directly runs
the same checks. The catalog loader calls these, so a bad parameter stops
`govproxy config check` and startup; nothing here runs at request time.

Unset parameters take the category's defaults: its display mask style
(`masks.CATEGORY_STYLES`) and that style's Chinese defaults, and its
generalisation form (`DEFAULT_FORMS`).
"""

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from governance.errors import MaskingParamsError
from governance.masking.masks import CATEGORY_STYLES, MASK_STYLES

# style -> (keep_head allowed, keep_tail allowed, most characters shown in total)
_REVEALS: Mapping[str, tuple[bool, bool, int]] = MappingProxyType(
    {
        "mobile": (True, True, 7),  # at least 4 of 11 digits stay hidden
        "id_card": (True, True, 10),  # region code + last four at most
        "bank_card": (True, True, 10),  # BIN + last four at most (as PCI DSS)
        "email": (True, False, 3),
        "name": (False, False, 0),
        "address": (False, False, 0),
        "generic": (False, False, 0),
    }
)
_STYLE_DEFAULTS: Mapping[str, tuple[int, int]] = MappingProxyType(
    {"mobile": (3, 4), "id_card": (6, 4), "bank_card": (0, 4), "email": (1, 0)}
)
FORMS = ("year", "age_band", "province", "city", "district", "grid", "band")
"""Every generalisation form `generalise: {to: …}` may name."""

DEFAULT_FORMS: Mapping[str, str] = MappingProxyType(
    {
        "identity.birth_date": "year",
        "contact.address": "city",
        "location.precise": "district",
    }
)
"""The form a category generalises to when the catalog names none."""

DEFAULT_AGE_BANDS = (14, 18, 30, 45, 60)
_MAX_BANDS = 50
_MAX_AGE = 150
_MAX_DECIMALS = 2  # 0.01 degrees, about 1 km: anything finer is not generalised
_DEFAULT_DECIMALS = 1


@dataclass(frozen=True)
class MaskParams:
    """A display mask style and its parameters (None: the style's default)."""

    style: str
    keep_head: int | None = None
    keep_tail: int | None = None
    char: str = "*"

    def __post_init__(self) -> None:
        if self.style not in MASK_STYLES:
            raise MaskingParamsError(f"style: must be one of {sorted(MASK_STYLES)}")
        head_ok, tail_ok, most = _REVEALS[self.style]
        _check_count("keep_head", self.keep_head, head_ok, most, self.style)
        _check_count("keep_tail", self.keep_tail, tail_ok, most, self.style)
        head, tail = self.kept()
        if head + tail > most:
            raise MaskingParamsError(
                f"keep_head + keep_tail: the {self.style} mask shows at most {most}"
            )
        _check_char(self.char)

    def kept(self) -> tuple[int, int]:
        """The leading and trailing characters shown, defaults filled in."""
        head, tail = _STYLE_DEFAULTS.get(self.style, (0, 0))
        return (
            head if self.keep_head is None else self.keep_head,
            tail if self.keep_tail is None else self.keep_tail,
        )

    def keywords(self) -> dict[str, Any]:
        """The keyword arguments of the style's mask function."""
        head_ok, tail_ok, _ = _REVEALS[self.style]
        head, tail = self.kept()
        return {
            "char": self.char,
            **({"keep_head": head} if head_ok else {}),
            **({"keep_tail": tail} if tail_ok else {}),
        }


@dataclass(frozen=True)
class GeneraliseParams:
    """A generalisation form and its parameters."""

    to: str
    bands: tuple[float, ...] = ()
    decimals: int | None = None

    def __post_init__(self) -> None:
        if self.to not in FORMS:
            raise MaskingParamsError(f"to: must be one of {list(FORMS)}")
        if self.to == "age_band":
            _check_bands(self.bands or DEFAULT_AGE_BANDS, ages=True)
        elif self.to == "band":
            if not self.bands:
                raise MaskingParamsError("bands: required to generalise to band")
            _check_bands(self.bands, ages=False)
        elif self.bands:
            raise MaskingParamsError("bands: only for age_band and band")
        if self.decimals is not None:
            if self.to != "grid":
                raise MaskingParamsError("decimals: only for grid")
            _check_whole("decimals", self.decimals, 0, _MAX_DECIMALS)

    @property
    def band_edges(self) -> tuple[float, ...]:
        """The band boundaries in force (the default age bands if none were set)."""
        return self.bands or (DEFAULT_AGE_BANDS if self.to == "age_band" else ())

    @property
    def grid_decimals(self) -> int:
        """Decimal places kept by `grid`."""
        return _DEFAULT_DECIMALS if self.decimals is None else self.decimals


@dataclass(frozen=True)
class CategoryMasking:
    """How the configurable operators treat one category (None: defaults)."""

    mask: MaskParams | None = None
    generalise: GeneraliseParams | None = None


def mask_params(category: str, raw: Mapping[str, Any]) -> MaskParams:
    """Check one `mask:` mapping for `category` and fill in its style."""
    _only(raw, {"style", "keep_head", "keep_tail", "char"})
    style = raw.get("style", CATEGORY_STYLES.get(category, "generic"))
    if not isinstance(style, str):
        raise MaskingParamsError("style: must be a name")
    return MaskParams(
        style=style,
        keep_head=raw.get("keep_head"),
        keep_tail=raw.get("keep_tail"),
        char=raw.get("char", "*"),
    )


def generalise_params(category: str, raw: Mapping[str, Any]) -> GeneraliseParams:
    """Check one `generalise:` mapping for `category` and fill in its form."""
    _only(raw, {"to", "bands", "decimals"})
    to = raw.get("to", DEFAULT_FORMS.get(category))
    if to is None:
        raise MaskingParamsError("to: required, the category has no default form")
    bands = raw.get("bands", ())
    if not isinstance(bands, list | tuple):
        raise MaskingParamsError("bands: must be a list of numbers")
    return GeneraliseParams(to=to, bands=tuple(bands), decimals=raw.get("decimals"))


def _only(raw: Mapping[str, Any], allowed: set[str]) -> None:
    if not isinstance(raw, Mapping):
        raise MaskingParamsError("parameters must be a mapping")
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise MaskingParamsError(f"unknown parameter {unknown[0]!r}")


def _check_count(
    name: str, value: int | None, allowed: bool, most: int, style: str
) -> None:
    if value is None:
        return
    if not allowed:
        raise MaskingParamsError(f"{name}: not a parameter of the {style} mask")
    _check_whole(name, value, 0, most)


def _check_whole(name: str, value: Any, low: int, high: int) -> None:
    if type(value) is not int or not low <= value <= high:
        raise MaskingParamsError(f"{name}: must be a whole number from {low} to {high}")


def _check_char(char: Any) -> None:
    if (
        not isinstance(char, str)
        or len(char) != 1
        or char.isalnum()
        or char.isspace()
        or not char.isprintable()
        or char == "@"
    ):
        raise MaskingParamsError(
            "char: must be one printable symbol (not a letter, digit, space or @)"
        )


def _check_bands(bands: tuple[Any, ...], *, ages: bool) -> None:
    if len(bands) > _MAX_BANDS:
        raise MaskingParamsError(f"bands: at most {_MAX_BANDS}")
    for edge in bands:
        if ages:
            _check_whole("bands", edge, 1, _MAX_AGE)
        elif type(edge) not in (int, float) or not math.isfinite(edge):
            raise MaskingParamsError("bands: must be finite numbers")
    if any(b <= a for a, b in itertools.pairwise(bands)):
        raise MaskingParamsError("bands: must be strictly ascending")


def category_masking(
    category: str,
    *,
    mask: Mapping[str, Any] | None,
    generalise: Mapping[str, Any] | None,
) -> CategoryMasking:
    """Check both operators' parameters for `category`."""
    return CategoryMasking(
        mask=None if mask is None else mask_params(category, mask),
        generalise=(
            None if generalise is None else generalise_params(category, generalise)
        ),
    )

"""The display mask for each entity type, applied to the value as normalised.

Types with a catalogue category reuse `governance.masking.masks` (mobile
``138****5678``, ID ``110101********1234``, name ``张*``, e-mail
``z***@example.com``, card ``************1234``, address to province and
city). The others keep only what does not identify: a landline's area code
and last four digits, a plate's province and authority letter, an IP's
network half, a document's or account's first character. Every mask returns
``***`` instead of anything that would still contain the whole value, and no
mask output is itself recognised again, so masking is idempotent.
"""

import re
from collections.abc import Callable, Mapping
from types import MappingProxyType

from governance.masking.masks import (
    mask_address,
    mask_bank_card,
    mask_email,
    mask_generic,
    mask_id_number,
    mask_mobile,
    mask_name,
)
from governance.pii.types import EntityType

_SEPARATORS = re.compile(r"[\s.\-·•・\u2010-\u2015\u2212()]")
_LANDLINE = re.compile(
    r"(?:\+?86|0086)?0?(10|2[0-9]|[3-9][0-9]{2})([0-9]{7,8})(?:(?:转|ext|x|-)[0-9]{1,5})?",
    re.IGNORECASE,
)


def _guarded(mask: Callable[[str], str]) -> Callable[[str], str]:
    """Return `mask`, falling back to ``***`` when its output holds the whole value."""

    def guarded(value: str) -> str:
        masked = mask(value)
        compact = _SEPARATORS.sub("", value)
        return mask_generic(value) if not compact or compact in masked else masked

    return guarded


def _keep_head(length: int) -> Callable[[str], str]:
    """A mask keeping the first `length` characters and hiding the rest with ``*``."""

    def mask(value: str) -> str:
        compact = _SEPARATORS.sub("", value)
        if len(compact) <= length + 2:
            return mask_generic(value)
        return compact[:length] + "*" * (len(compact) - length)

    return mask


def mask_landline(value: str) -> str:
    """``0571-8888-1234`` -> ``0571-****1234``: the area code and last four digits.

    An extension is dropped; anything that is not a landline becomes ``***``.
    """
    match = _LANDLINE.fullmatch(_SEPARATORS.sub("", value))
    if match is None:
        return mask_generic(value)
    area, number = match.groups()
    return f"0{area}-****{number[-4:]}"


def mask_ip(value: str) -> str:
    """``192.168.1.23`` -> ``192.168.*.*``; ``2001:db8::1`` -> ``2001:db8:*``."""
    if "." in value and ":" not in value:
        return ".".join(value.split(".")[:2]) + ".*.*"
    groups = value.split(":")
    if len(groups) < 3 or not groups[0] or not groups[1]:
        return mask_generic(value)
    return f"{groups[0]}:{groups[1]}:*"


MASKS: Mapping[EntityType, Callable[[str], str]] = MappingProxyType(
    {
        EntityType.CN_MOBILE: mask_mobile,
        EntityType.CN_LANDLINE: _guarded(mask_landline),
        EntityType.CN_ID_CARD: mask_id_number,
        EntityType.CN_BANK_CARD: mask_bank_card,
        EntityType.CN_USCC: _guarded(_keep_head(2)),
        EntityType.CN_PASSPORT: _guarded(_keep_head(1)),
        EntityType.CN_TRAVEL_PERMIT: _guarded(_keep_head(1)),
        EntityType.CN_LICENSE_PLATE: _guarded(_keep_head(2)),
        EntityType.EMAIL_ADDRESS: mask_email,
        EntityType.IP_ADDRESS: _guarded(mask_ip),
        EntityType.CN_WECHAT_ID: _guarded(_keep_head(1)),
        EntityType.CN_QQ: _guarded(_keep_head(1)),
        EntityType.PERSON: mask_name,
        EntityType.CN_ADDRESS: mask_address,
    }
)
"""Entity type -> display mask of a value of that type."""

"""`mask`: a display mask chosen by the field's category (never by its name).

Each category's mask comes from the catalog's `masking:` configuration when it
names one (`{mask: {style, keep_head, keep_tail, char}}`), else from the
category's default (`masks.DISPLAY_MASKS`). A category with neither gets the
generic mask, which reveals nothing: masking must fail safe, not fall back to
the raw value.
"""

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from governance.masking.masks import DISPLAY_MASKS, MASK_STYLES, mask_generic
from governance.masking.params import MaskParams
from governance.types import FieldFact


def display_mask(params: MaskParams) -> Callable[[str], str]:
    """The mask function `params` configure."""
    return partial(MASK_STYLES[params.style], **params.keywords())


class Mask:
    """Apply the display mask of the field's category."""

    def __init__(self, params: Mapping[str, MaskParams] | None = None) -> None:
        self._masks: dict[str, Callable[[str], str]] = dict(DISPLAY_MASKS)
        self._masks.update({c: display_mask(p) for c, p in (params or {}).items()})

    def apply(self, value: Any, field: FieldFact) -> Any:
        """Return the masked display form of `value` (None stays None)."""
        if value is None:
            return None
        return self._masks.get(field.category, mask_generic)(str(value))

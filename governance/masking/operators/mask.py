"""`mask`: a display mask chosen by the field's category (never by its name).

A category without a display mask of its own gets the generic mask, which
reveals nothing: masking must fail safe, not fall back to the raw value.
"""

from typing import Any

from governance.masking.masks import DISPLAY_MASKS, mask_generic
from governance.types import FieldFact


class Mask:
    """Apply the display mask of the field's category."""

    def apply(self, value: Any, field: FieldFact) -> Any:
        """Return the masked display form of `value` (None stays None)."""
        if value is None:
            return None
        return DISPLAY_MASKS.get(field.category, mask_generic)(str(value))

"""What every masking operator is: a callable from (value, field) to the value that may leave.

An operator is built once, at startup, with parameters it has already checked
(`MaskingParamsError` otherwise), so `apply` never fails on configuration. It
returns `WITHHELD` when the field must not leave at all: `mask_record` then
leaves the field out, as it does for a `withhold` obligation.
"""

from enum import Enum
from typing import Any, Final, Protocol

from governance.types import FieldFact


class _Withheld(Enum):
    WITHHELD = "withheld"


WITHHELD: Final = _Withheld.WITHHELD
"""Returned by `apply` when nothing of the field may leave: the field is left out."""


class Operator(Protocol):
    """Transforms one field value as its obligation requires."""

    def apply(self, value: Any, field: FieldFact) -> Any:
        """Return what may leave the proxy in place of `value`, or `WITHHELD`."""
        ...

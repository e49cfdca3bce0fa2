"""What every masking operator is: a callable from (value, field) to the value that may leave."""

from typing import Any, Protocol

from governance.types import FieldFact


class Operator(Protocol):
    """Transforms one field value as its obligation requires."""

    def apply(self, value: Any, field: FieldFact) -> Any:
        """Return what may leave the proxy in place of `value`."""
        ...

"""`keep`: the value leaves as stored."""

from typing import Any

from governance.types import FieldFact


class Keep:
    """Pass the value through unchanged."""

    def apply(self, value: Any, field: FieldFact) -> Any:  # noqa: ARG002 - Operator protocol
        """Return `value` itself."""
        return value

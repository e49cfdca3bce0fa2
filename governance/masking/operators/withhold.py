"""`withhold`: nothing of the field leaves; the field is absent from the answer."""

from typing import Any

from governance.masking.operators.base import WITHHELD
from governance.types import FieldFact


class Withhold:
    """Leave the field out."""

    def apply(self, value: Any, field: FieldFact) -> Any:  # noqa: ARG002 - Operator protocol
        """Return `WITHHELD`, whatever the value."""
        return WITHHELD

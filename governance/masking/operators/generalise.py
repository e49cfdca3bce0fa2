"""`generalise`: a coarser value (birth year or age band, city, district, amount band).

The form is chosen by the field's category: the catalog's `masking:`
configuration (`{generalise: {to: …}}`) or the category's default form
(`params.DEFAULT_FORMS`). A value that does not parse as its form, or a
category without any form, leaves as ``None``: nothing of it is shown.
"""

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from governance.masking.generalisers import Generaliser, generaliser
from governance.masking.params import DEFAULT_FORMS, GeneraliseParams
from governance.types import FieldFact


class Generalise:
    """Replace a value with its generalised form."""

    def __init__(
        self,
        params: Mapping[str, GeneraliseParams] | None = None,
        *,
        today: Callable[[], date],
    ) -> None:
        forms = {c: GeneraliseParams(to=f) for c, f in DEFAULT_FORMS.items()}
        forms.update(params or {})
        self._forms: dict[str, Generaliser] = {
            c: generaliser(p, today) for c, p in forms.items()
        }

    def apply(self, value: Any, field: FieldFact) -> Any:
        """Return the generalised form of `value`, or None."""
        if value is None:
            return None
        form = self._forms.get(field.category)
        return None if form is None else form(value)

"""`redact_text`: free text with every personal value found in it masked in place.

The operator does not detect anything itself: it is built around a
`TextRedactor` (the PII scanner of `governance.pii`, adapted to this one
method) handed in by the app's wiring. Without a redactor no `RedactText` is
built, and `mask_record` withholds any field obliged to `redact_text`. If the
redactor fails on a value, or answers with something that is not text, the
field is withheld too: free text never leaves unscanned.
"""

from typing import Any, Protocol

import structlog

from governance.masking.operators.base import WITHHELD
from governance.types import FieldFact

_log = structlog.get_logger("governance.masking")


class TextRedactor(Protocol):
    """Masks every personal value it finds in a text, keeping the rest readable."""

    def redact(self, text: str) -> str:
        """Return `text` with each personal value replaced by its masked form."""
        ...


class RedactText:
    """Scan a free-text value and mask what the redactor finds."""

    def __init__(self, redactor: TextRedactor) -> None:
        self._redactor = redactor

    def apply(self, value: Any, field: FieldFact) -> Any:
        """Return the redacted text, or `WITHHELD` if it could not be scanned."""
        if value is None:
            return None
        try:
            redacted = self._redactor.redact(str(value))
        except Exception as exc:  # any failure of the scanner must not leak the text
            _log.warning("redaction_failed", field=field.name, error=type(exc).__name__)
            return WITHHELD
        return redacted if isinstance(redacted, str) else WITHHELD

"""Mainland mobile and landline numbers.

Mobiles: eleven digits on an allocated ``1xx`` prefix, optionally after
``+86``/``0086``/``86``, grouped 3-4-4 by spaces, dashes or dots (full-width
digits are already ASCII after normalisation). Landlines: a ``0`` area code
(``010``, ``02x`` or ``0xxx``, optionally in brackets, or without the ``0``
after ``+86``) and a 7 or 8 digit number, optionally with an extension. A
number right after an order, tracking or product context word is dropped.
"""

import re
from collections.abc import Iterator

from governance.pii.context import (
    AFTER,
    LONG_NUMBER,
    SEPARATOR,
    bounded,
    not_personal,
)
from governance.pii.recognizers.base import Recognizer
from governance.pii.types import Entity, EntityType

_S = f"{SEPARATOR}?"
# Allocated mobile prefixes (MIIT numbering plan, data and IoT-only ranges left out).
_MOBILE_BODY = (
    r"(?:3[0-9]|4[5-9]|5[0-35-9]|6[2567]|7[0-8]|8[0-9]|9[0-35-9])"
    rf"{_S}[0-9]{{4}}{_S}[0-9]{{4}}{AFTER}"
)
_COUNTRY = rf"(?:\+86|{bounded('0')}086|\(\+?86\)|{bounded('8')}6)"
# Two patterns, so that each starts with a fixed character the engine can seek.
_MOBILES = (
    re.compile(f"{bounded('1')}{_MOBILE_BODY}"),
    re.compile(f"{_COUNTRY}{_S}1{_MOBILE_BODY}"),
)
_AREA = r"(?:10|2[0-9]|[3-9][0-9]{2})"
_LANDLINE = re.compile(
    rf"(?:(?:\+86|{bounded('0')}086){_S}\(?0?{_AREA}\)?|\(0{_AREA}\)|{bounded('0')}{_AREA})"
    rf"{_S}(?:[2-9][0-9]{{3}}{_S}[0-9]{{3,4}}|[2-9][0-9]{{2}}{_S}[0-9]{{4}})"
    rf"(?:{_S}(?:转|ext\.?|x|-)[0-9]{{1,5}})?{AFTER}",
    re.IGNORECASE,
)


class PhoneRecognizer(Recognizer):
    """Mobile (score 0.9) and landline (0.8) numbers not said to be order numbers."""

    entity_types = (EntityType.CN_MOBILE, EntityType.CN_LANDLINE)
    cue = LONG_NUMBER

    def find(self, text: str) -> Iterator[Entity]:
        """Yield mobiles and landlines."""
        for pattern, kind, score in (
            (_MOBILES[0], EntityType.CN_MOBILE, 0.9),
            (_MOBILES[1], EntityType.CN_MOBILE, 0.9),
            (_LANDLINE, EntityType.CN_LANDLINE, 0.8),
        ):
            for match in pattern.finditer(text):
                if not not_personal(text, match.start()):
                    yield Entity(kind, match.start(), match.end(), score)

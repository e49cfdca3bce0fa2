"""Mainland mobile and landline numbers.

Mobiles: eleven digits on an allocated ``1xx`` prefix, optionally after
``+86``/``0086``/``86``, grouped 3-4-4 by spaces, dashes or dots (full-width
digits are already ASCII after normalisation). Landlines: a ``0`` area code
(``010``, ``02x`` or ``0xxx``, optionally in brackets, or without the ``0``
after ``+86``) and a 7 or 8 digit number, optionally with an extension. A
number right after an order, tracking or product context word is dropped.

All forms are one pattern, so each text is searched once: it starts with the
character class of every first character (``+``, ``(``, ``0``, ``1``, ``8``;
a digit only where no letter or digit precedes it), which the regex engine
can seek, and look-behinds after it tell the forms apart.
"""

import re
from collections.abc import Iterator

from governance.pii.context import (
    AFTER,
    DIGITS,
    LONG_NUMBER,
    SEPARATOR,
    ascii_word,
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
# Country codes after their first character: +86, 0086, (+86), (86), 86.
_COUNTRY = r"(?:(?<=\+)86|(?<=0)086|(?<=\()\+?86\)|(?<=8)6)"
_AREA = r"(?:10|2[0-9]|[3-9][0-9]{2})"
_LANDLINE = (
    rf"(?:(?:(?<=\+)86|(?<=0)086){_S}\(?0?{_AREA}\)?|(?<=\()0{_AREA}\)|(?<=0){_AREA})"
    rf"{_S}(?:[2-9][0-9]{{3}}{_S}[0-9]{{3,4}}|[2-9][0-9]{{2}}{_S}[0-9]{{4}})"
    rf"(?:{_S}(?:转|{ascii_word('ext')}\.?|[Xx]|-)[0-9]{{1,5}})?{AFTER}"
)
_PHONE = re.compile(
    r"[+(018](?:(?<=[+(])|(?<![0-9A-Za-z].)(?<![0-9A-Za-z]-.))"
    rf"(?:(?P<mobile>(?<=1){_MOBILE_BODY}|{_COUNTRY}{_S}1{_MOBILE_BODY})"
    rf"|{_LANDLINE})"
)


class PhoneRecognizer(Recognizer):
    """Mobile (score 0.9) and landline (0.8) numbers not said to be order numbers."""

    entity_types = (EntityType.CN_MOBILE, EntityType.CN_LANDLINE)
    cue_chars = DIGITS
    cue = LONG_NUMBER

    def find(self, text: str) -> Iterator[Entity]:
        """Yield mobiles and landlines."""
        for match in _PHONE.finditer(text):
            start = match.start()
            if not not_personal(text, start):
                if match["mobile"] is not None:
                    yield Entity(EntityType.CN_MOBILE, start, match.end(), 0.9)
                else:
                    yield Entity(EntityType.CN_LANDLINE, start, match.end(), 0.8)

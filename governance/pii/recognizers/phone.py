"""Mainland mobile and landline numbers.

Mobiles: eleven digits on an allocated ``1xx`` prefix (`MOBILE_PREFIXES`),
optionally after ``+86``/``0086``/``86``, grouped 3-4-4 by spaces, dashes or
dots (full-width digits are already ASCII after normalisation); on any
``1[3-9]x`` prefix when a phone word (电话, 手机, 回拨, tel …) stands at most
12 characters before, as new ranges are allocated. Landlines: a ``0`` area code
(``010``, ``02x`` or ``0xxx``, optionally in brackets, or without the ``0``
after ``+86``) and a 7 or 8 digit number, optionally with an extension. A
number right after an order, tracking or product context word is dropped.

All forms are one pattern, so each text is searched once: it starts with the
character class of every first character (``+``, ``(``, ``0``, ``1``, ``8``;
a digit only where no letter or digit precedes it, a URL escape's ``%XX``
aside), which the regex engine can seek, and look-behinds after it tell the
forms apart.
"""

import re
from collections.abc import Iterator

from governance.pii.context import (
    AFTER,
    DIGITS,
    LONG_NUMBER,
    SEPARATOR,
    UNGLUED,
    any_word,
    ascii_word,
    has_context,
    not_personal,
)
from governance.pii.recognizers.base import Recognizer
from governance.pii.types import Entity, EntityType

_S = f"{SEPARATOR}?"
# Allocated mobile prefixes (MIIT numbering plan, data and IoT-only ranges left
# out): second digit, then the third digits allocated after it.
_ALLOCATED = {
    "3": "0123456789",
    "4": "56789",
    "5": "012356789",
    "6": "2567",
    "7": "012345678",
    "8": "0123456789",
    "9": "012356789",
}
MOBILE_PREFIXES = tuple(
    f"1{second}{third}" for second, thirds in _ALLOCATED.items() for third in thirds
)
"""The allocated three-digit mobile prefixes, ``130`` to ``199``."""
_MOBILE_BODY = (
    "(?:"
    + "|".join(f"{second}[{thirds}]" for second, thirds in _ALLOCATED.items())
    + rf"){_S}[0-9]{{4}}{_S}[0-9]{{4}}{AFTER}"
)
# Any 1[3-9]x prefix, counted only after a phone word.
_ANY_BODY = rf"[3-9][0-9]{_S}[0-9]{{4}}{_S}[0-9]{{4}}{AFTER}"
_MOBILE_CONTEXT = re.compile(
    any_word("电话 手机 号码 回拨 回电 来电 致电 拨打 联系 短信")
    + "|(?<![A-Za-z])(?:"
    + "|".join(ascii_word(word) for word in ("tel", "phone", "mobile", "call"))
    + ")"
)
_CONTEXT_WINDOW = 12
# Country codes after their first character: +86, 0086, (+86), (86), 86.
_COUNTRY = r"(?:(?<=\+)86|(?<=0)086|(?<=\()\+?86\)|(?<=8)6)"
_AREA = r"(?:10|2[0-9]|[3-9][0-9]{2})"
_LANDLINE = (
    rf"(?:(?:(?<=\+)86|(?<=0)086){_S}\(?0?{_AREA}\)?|(?<=\()0{_AREA}\)|(?<=0){_AREA})"
    rf"{_S}(?:[2-9][0-9]{{3}}{_S}[0-9]{{3,4}}|[2-9][0-9]{{2}}{_S}[0-9]{{4}})"
    rf"(?:{_S}(?:转|{ascii_word('ext')}\.?|[Xx]|-)[0-9]{{1,5}})?{AFTER}"
)
_PHONE = re.compile(
    rf"[+(018](?:(?<=[+(])|{UNGLUED})"
    rf"(?:(?P<mobile>(?<=1){_MOBILE_BODY}|{_COUNTRY}{_S}1{_MOBILE_BODY})"
    rf"|{_LANDLINE}|(?P<any>(?<=1){_ANY_BODY}|{_COUNTRY}{_S}1{_ANY_BODY}))"
)


class PhoneRecognizer(Recognizer):
    """Mobile (score 0.9; 0.8 on an unallocated prefix) and landline (0.8) numbers.

    Numbers said to be order numbers are left out.
    """

    entity_types = (EntityType.CN_MOBILE, EntityType.CN_LANDLINE)
    cue_chars = DIGITS
    cue = LONG_NUMBER

    def find(self, text: str) -> Iterator[Entity]:
        """Yield mobiles and landlines."""
        position = 0
        while (match := _PHONE.search(text, position)) is not None:
            start, end = match.span()
            position = end
            if match["any"] is not None and not has_context(
                _MOBILE_CONTEXT, text, start, _CONTEXT_WINDOW
            ):
                position = start + 1  # let a number inside it match on its own
            elif not not_personal(text, start):
                if match["mobile"] is not None:
                    yield Entity(EntityType.CN_MOBILE, start, end, 0.9)
                elif match["any"] is not None:
                    yield Entity(EntityType.CN_MOBILE, start, end, 0.8)
                else:
                    yield Entity(EntityType.CN_LANDLINE, start, end, 0.8)

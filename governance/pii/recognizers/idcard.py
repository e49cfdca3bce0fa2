"""Resident identity card numbers (居民身份证): 18-digit and legacy 15-digit.

An 18-digit number counts when its GB 11643 check character, birth date and
division code are valid (score 1.0); with 身份证/证件 just before it, a wrong
check character is forgiven (a mistyped ID is still personal data, 0.7). A
15-digit number counts when its division code and birth date (19yy) are valid
(0.8). Digits may be grouped 6-8-4, 6-4-4-4 (6-6-3) by spaces or dashes. Only
the numbers without a valid check character are dropped after an order word.
"""

import re
from collections.abc import Iterator
from datetime import date

from governance.pii._regions import valid_region
from governance.pii.context import (
    AFTER,
    DIGITS,
    LONG_NUMBER,
    SEPARATOR,
    bounded,
    has_context,
    not_personal,
)
from governance.pii.recognizers.base import Recognizer
from governance.pii.types import Entity, EntityType

_S = f"{SEPARATOR}?"
_MMDD = r"(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
_REGION = f"{bounded('[1-9]')}[0-9]{{5}}"
# Both lengths in one pattern, so that each text is searched once.
_ID = re.compile(
    rf"{_REGION}{_S}(?:(?P<id18>(?:18|19|20)[0-9]{{2}}{_S}{_MMDD}{_S}[0-9]{{3}}[0-9Xx]{AFTER})"
    rf"|[0-9]{{2}}{_MMDD}{_S}[0-9]{{3}}{AFTER})"
)
_ID_CONTEXT = re.compile(r"身份证|证件|(?<![A-Za-z])(?:id|sfz)", re.IGNORECASE)
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_NOT_DIGIT = re.compile(r"[^0-9X]")


def check_character(body: str) -> str:
    """The GB 11643 check character of the first 17 digits of an ID number."""
    return _CHECK[sum(int(d) * w for d, w in zip(body, _WEIGHTS, strict=False)) % 11]


def _valid_birth(year: int, month: int, day: int) -> bool:
    try:
        born = date(year, month, day)
    except ValueError:
        return False
    return date(1880, 1, 1) <= born <= date.today()


class ResidentIdRecognizer(Recognizer):
    """18- and 15-digit resident ID numbers with valid region and birth date."""

    entity_types = (EntityType.CN_ID_CARD,)
    cue_chars = DIGITS
    cue = LONG_NUMBER

    def find(self, text: str) -> Iterator[Entity]:
        """Yield ID numbers."""
        for match in _ID.finditer(text):
            number = _NOT_DIGIT.sub("", match.group().upper())
            if match["id18"] is not None:
                score = self._score_18(text, match.start(), number)
            elif valid_region(number[:6]) and _valid_birth(
                1900 + int(number[6:8]), *_month_day(number[8:12])
            ):
                score = 0.8
            else:
                score = 0.0
            # A valid check character outweighs an order word before it (批次 …).
            if score == 1.0 or (score and not not_personal(text, match.start())):
                yield Entity(EntityType.CN_ID_CARD, match.start(), match.end(), score)

    @staticmethod
    def _score_18(text: str, start: int, number: str) -> float:
        if not valid_region(number[:6]) or not _valid_birth(
            int(number[6:10]), *_month_day(number[10:14])
        ):
            return 0.0
        if check_character(number) == number[17]:
            return 1.0
        return 0.7 if has_context(_ID_CONTEXT, text, start, 12) else 0.0


def _month_day(mmdd: str) -> tuple[int, int]:
    return int(mmdd[:2]), int(mmdd[2:])

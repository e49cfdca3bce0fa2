"""Bank card numbers: 16 to 19 digits, Luhn-valid, on a common issuer prefix.

Digits may be grouped in fours by spaces or dashes. Prefixes: UnionPay
(``62``, ``60``), Visa (``4``), Mastercard (``51``–``55``, ``22``–``27``), JCB
(``35``) and the older domestic ``95`` cards. Score 0.95: a Luhn check and a
prefix make a random number unlikely to pass, so a card is found after an
order or batch word too (批次, 交易号): masking an order number that happens
to pass costs less than showing a card.
"""

import re
from collections.abc import Iterator

from governance.pii.context import (
    AFTER,
    DIGITS,
    LONG_NUMBER,
    SEPARATOR,
    bounded,
)
from governance.pii.recognizers.base import Recognizer
from governance.pii.types import VALIDATED, Entity, EntityType

_S = f"{SEPARATOR}?"
_CARD = re.compile(
    rf"{bounded('[2-69]')}[0-9]{{3}}(?:{_S}[0-9]{{4}}){{3}}(?:{_S}[0-9]{{1,3}})?{AFTER}"
)
_PREFIX = re.compile(r"62|60|4|5[1-5]|2[2-7]|35|95")
_NOT_DIGIT = re.compile(r"[^0-9]")


def luhn_valid(digits: str) -> bool:
    """Whether a string of digits passes the Luhn (mod 10) check."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


class BankCardRecognizer(Recognizer):
    """Luhn-valid card numbers on a known issuer prefix."""

    entity_types = (EntityType.CN_BANK_CARD,)
    cue_chars = DIGITS
    cue = LONG_NUMBER

    def find(self, text: str) -> Iterator[Entity]:
        """Yield card numbers."""
        for match in _CARD.finditer(text):
            digits = _NOT_DIGIT.sub("", match.group())
            if _PREFIX.match(digits) and luhn_valid(digits):
                yield Entity(
                    EntityType.CN_BANK_CARD, match.start(), match.end(), VALIDATED
                )

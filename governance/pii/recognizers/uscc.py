"""统一社会信用代码 (Unified Social Credit Code, GB 32100): 18 characters.

A registration authority (a digit or A, N, Y) and an entity type (a digit in
every authority's list), a six-digit division code (its province must exist),
a nine-character organisation code and a check character over the alphabet
without I, O, S, V and Z. Score 0.95 when the check character is right; sole
traders' codes identify a person. The type and the division code are seven
digits in a row, so the scanner's long-number cue holds for every code.
"""

import re
from collections.abc import Iterator

from governance.pii._regions import province_codes
from governance.pii.context import AFTER, DIGITS, LONG_NUMBER, bounded
from governance.pii.recognizers.base import Recognizer
from governance.pii.types import VALIDATED, Entity, EntityType

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_CHAR = "[0-9A-HJ-NPQRTUWXY]"
_USCC = re.compile(rf"{bounded('[1-9ANY]')}[1-9][0-9]{{6}}{_CHAR}{{10}}{AFTER}")


def check_character(body: str) -> str:
    """The GB 32100 check character of the first 17 characters of a code."""
    total = sum(ALPHABET.index(c) * w for c, w in zip(body, _WEIGHTS, strict=False))
    return ALPHABET[(31 - total % 31) % 31]


class UsccRecognizer(Recognizer):
    """Unified social credit codes with a valid check character."""

    entity_types = (EntityType.CN_USCC,)
    cue_chars = DIGITS
    cue = LONG_NUMBER

    def find(self, text: str) -> Iterator[Entity]:
        """Yield credit codes."""
        for match in _USCC.finditer(text):
            code = match.group()
            if code[2:4] in province_codes() and check_character(code) == code[17]:
                yield Entity(EntityType.CN_USCC, match.start(), match.end(), VALIDATED)

"""Licence plates (机动车号牌): a province character, an authority letter, a number.

Ordinary plates have five characters after the letter (digits and letters
without I and O, at least three digits, or a 挂/学/警/港/澳 suffix); new-energy
plates have six (``D``/``F`` then a character and four digits, or five digits
then ``D``/``F``). A middle dot, space or dash may follow the letter.
"""

import re
from collections.abc import Iterator

from governance.pii.recognizers.base import Recognizer
from governance.pii.types import Entity, EntityType

_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_C = "[A-HJ-NP-Z0-9]"
_PLATE = re.compile(
    rf"[{_PROVINCES}][A-HJ-NP-Z][·•・.\- ]?"
    rf"(?P<number>[0-9]{{5}}[DF]|[DF]{_C}[0-9]{{4}}|{_C}{{4}}[0-9挂学警港澳]|{_C}{{5}})"
    r"(?![0-9A-Za-z])"
)
_DIGIT = re.compile(r"[0-9]")


class LicensePlateRecognizer(Recognizer):
    """Ordinary and new-energy plates (0.85)."""

    entity_types = (EntityType.CN_LICENSE_PLATE,)
    cue_chars = frozenset(_PROVINCES)

    def find(self, text: str) -> Iterator[Entity]:
        """Yield plates."""
        for match in _PLATE.finditer(text):
            number = match.group("number")
            if len(number) == 6 or len(_DIGIT.findall(number)) >= 3:
                yield Entity(
                    EntityType.CN_LICENSE_PLATE, match.start(), match.end(), 0.85
                )

"""Passports and travel permits, recognised only next to a word naming them.

Their formats (a letter and eight digits, or eight digits) are shared by
product and order codes, so a number counts only when it starts at most 16
characters after a context word naming the document:

| document | format | context |
|---|---|---|
| passport (护照) | ``E`` + 8 digits or letter + 7; ``G``/``D``/``S``/``P`` + 7–8 | 护照 |
| 往来港澳通行证 | ``C``/``W`` + 8 digits, ``C`` + letter + 7 digits | 港澳, 通行证 |
| 回乡证 (港澳居民来往内地通行证) | ``H``/``M`` + 8 or 10 digits | 回乡证, 港澳居民, 通行证 |
| 大陆居民往来台湾通行证 | ``L`` + 8 digits | 台湾, 通行证 |
| 台胞证 (台湾居民来往大陆通行证) | 8 or 10 digits | 台胞证 |
"""

import re
from collections.abc import Iterator

from governance.pii.context import AFTER, ascii_word, bounded
from governance.pii.recognizers.base import Recognizer
from governance.pii.types import Entity, EntityType

_LETTER = "[A-HJ-NP-Z]"
_NUMBERS = {
    "passport": (
        EntityType.CN_PASSPORT,
        re.compile(
            rf"{bounded('[EGDSP]')}(?:(?<=E)[0-9]{{8}}|(?<=E){_LETTER}[0-9]{{7}}|[0-9]{{7,8}}){AFTER}"
        ),
    ),
    "permit": (
        EntityType.CN_TRAVEL_PERMIT,
        re.compile(
            rf"{bounded('[CWHML]')}(?:[0-9]{{8}}|(?<=C){_LETTER}[0-9]{{7}}"
            rf"|(?<=[HM])[0-9]{{10}}){AFTER}"
        ),
    ),
    "taiwan": (
        EntityType.CN_TRAVEL_PERMIT,
        re.compile(rf"{bounded('[0-9]')}[0-9]{{7}}(?:[0-9]{{2}})?{AFTER}"),
    ),
}
# The words naming each document, in one pattern so that a text is searched
# once; the group that matched tells which numbers to look for after it.
_CONTEXT = re.compile(
    "[护港通回台入Pp](?:"
    f"(?P<passport>(?<=护)照|(?<=[Pp]){ascii_word('assport')})"
    "|(?P<taiwan>(?<=台)胞证)"
    "|(?P<permit>(?<=港)澳|(?<=通)行证|(?<=回)乡证|(?<=台)湾|(?<=入)台"
    f"|(?<=[Pp]){ascii_word('ermit')})"
    ")"
)
_WINDOW = 16
_LONGEST = 11  # characters of the longest number, and one to see where it ends


class TravelDocumentRecognizer(Recognizer):
    """Passport and permit numbers preceded by a word naming the document (0.85)."""

    entity_types = (EntityType.CN_PASSPORT, EntityType.CN_TRAVEL_PERMIT)
    cue_chars = frozenset("照澳证湾台Pp")

    def find(self, text: str) -> Iterator[Entity]:
        """Yield document numbers that have their context."""
        for word in _CONTEXT.finditer(text):
            kind, pattern = _NUMBERS[word.lastgroup or ""]
            end = min(len(text), word.end() + _WINDOW + _LONGEST)
            for match in pattern.finditer(text, word.end(), end):
                if match.start() - word.end() <= _WINDOW:
                    yield Entity(kind, match.start(), match.end(), 0.85)

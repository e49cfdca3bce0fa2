"""Passports and travel permits, recognised only next to a word naming them.

Their formats (a letter and eight digits, or eight digits) are shared by
product and order codes, so a context word within a few characters before the
number is required:

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

from governance.pii.context import AFTER, BEFORE, LONG_NUMBER, has_context
from governance.pii.recognizers.base import Recognizer
from governance.pii.types import Entity, EntityType

_LETTER = "[A-HJ-NP-Z]"
_DOCUMENTS = (
    (
        EntityType.CN_PASSPORT,
        re.compile(
            rf"{BEFORE}(?:E[0-9]{{8}}|E{_LETTER}[0-9]{{7}}|[GDSP][0-9]{{7,8}}){AFTER}"
        ),
        re.compile(r"护照|passport", re.IGNORECASE),
    ),
    (
        EntityType.CN_TRAVEL_PERMIT,
        re.compile(
            rf"{BEFORE}(?:[CW][0-9]{{8}}|C{_LETTER}[0-9]{{7}}|[HM][0-9]{{8}}(?:[0-9]{{2}})?"
            rf"|L[0-9]{{8}}){AFTER}"
        ),
        re.compile(r"港澳|通行证|回乡证|台湾|入台|permit", re.IGNORECASE),
    ),
    (
        EntityType.CN_TRAVEL_PERMIT,
        re.compile(rf"{BEFORE}[0-9]{{8}}(?:[0-9]{{2}})?{AFTER}"),
        re.compile(r"台胞证"),
    ),
)
_WINDOW = 16


class TravelDocumentRecognizer(Recognizer):
    """Passport and permit numbers preceded by a word naming the document (0.85)."""

    entity_types = (EntityType.CN_PASSPORT, EntityType.CN_TRAVEL_PERMIT)
    cue = LONG_NUMBER

    def find(self, text: str) -> Iterator[Entity]:
        """Yield document numbers that have their context."""
        for kind, pattern, context in _DOCUMENTS:
            if context.search(text) is None:
                continue
            for match in pattern.finditer(text):
                if has_context(context, text, match.start(), _WINDOW):
                    yield Entity(kind, match.start(), match.end(), 0.85)

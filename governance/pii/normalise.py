"""Normalise text before matching, keeping a map back to the original offsets.

`normalise(text)` applies NFKC to every character (full-width digits and
letters become ASCII, the ideographic space a space, full-width punctuation its
ASCII form) and removes characters that are invisible in a rendered text but
split what a person reads as one number: zero-width spaces and joiners,
bidirectional marks and isolates, the byte-order mark, soft hyphens, variation
selectors and control characters other than whitespace.

NFKC is applied character by character, not across characters, so each
character of the normalised text comes from exactly one original character and
a span of the normalised text maps back to a span of the original that covers
every character it came from (never half of one).
"""

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

# Invisible characters people (or tools) put inside numbers and words.
_REMOVED_RANGES = (
    (0x0000, 0x0008),  # C0 controls, except \t \n \v \f \r
    (0x000E, 0x001B),
    (0x007F, 0x0084),  # DEL and C1 controls, except NEL (U+0085)
    (0x0086, 0x009F),
    (0xFE00, 0xFE0F),  # variation selectors (emoji presentation)
    (0xE0100, 0xE01EF),  # variation selectors supplement
)


@lru_cache(maxsize=65_536)
def _replacement(char: str) -> str:
    """What one character becomes: "" when removed, else its NFKC form."""
    code = ord(char)
    if unicodedata.category(char) == "Cf" or any(
        low <= code <= high for low, high in _REMOVED_RANGES
    ):
        return ""
    if 0xD800 <= code <= 0xDFFF:  # a lone surrogate has no normal form
        return char
    return unicodedata.normalize("NFKC", char)


@dataclass(frozen=True, slots=True)
class Normalised:
    """A normalised text and, when lengths changed, where each character came from.

    Attributes:
        text: The normalised text.
        origins: ``origins[i]`` is the index in the original text of the
            character that produced ``text[i]``; ``None`` when every
            character maps to the one at the same index.
        original_length: Length of the original text.
    """

    text: str
    origins: tuple[int, ...] | None
    original_length: int

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map a non-empty span of the normalised text to the original text."""
        if self.origins is None:
            return start, end
        return self.origins[start], self.origins[end - 1] + 1


def normalise(text: str) -> Normalised:
    """Normalise `text` for matching (see the module docstring)."""
    changed = {}
    same_length = True
    for char in set(text):
        replacement = _replacement(char)
        if replacement != char:
            changed[ord(char)] = replacement
            same_length = same_length and len(replacement) == 1
    if not changed:
        return Normalised(text, None, len(text))
    if same_length:
        return Normalised(text.translate(changed), None, len(text))
    pieces: list[str] = []
    origins: list[int] = []
    for index, char in enumerate(text):
        replacement = changed.get(ord(char), char)
        pieces.append(replacement)
        origins.extend([index] * len(replacement))
    return Normalised("".join(pieces), tuple(origins), len(text))

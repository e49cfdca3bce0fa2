"""Normalise text before matching, keeping a map back to the original offsets.

`normalise(text)` applies NFKC to every character (full-width digits and
letters become ASCII, the ideographic space a space) and removes characters
that are invisible in a rendered text but split what a person reads as one
number: zero-width spaces and joiners, bidirectional marks and isolates, the
byte-order mark, soft hyphens, variation selectors and control characters
other than whitespace. Full-width sentence punctuation (，：；！？ and the
like) is left as it is: it never occurs inside a value, and the recognizers
read ``：`` as they read ``:``. That keeps most Chinese text unchanged, which
is the fast path.

NFKC is applied character by character, not across characters, so each
character of the normalised text comes from exactly one original character and
a span of the normalised text maps back to a span of the original that covers
every character it came from (never half of one).
"""

import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass
from functools import cache, lru_cache

# Full-width punctuation that only ever separates words: kept as it is.
_KEPT = frozenset("！＂＃＄％＆＇＊，／：；＜＝＞？［＼］＾｀｛｜｝～｟｠")
# Invisible characters people (or tools) put inside numbers and words, besides Cf.
_REMOVED_RANGES = (
    (0x0000, 0x0008),  # C0 controls, except \t \n \v \f \r
    (0x000E, 0x001B),
    (0x007F, 0x0084),  # DEL and C1 controls, except NEL (U+0085)
    (0x0086, 0x009F),
    (0xFE00, 0xFE0F),  # variation selectors (emoji presentation)
    (0xE0100, 0xE01EF),  # variation selectors supplement
)
# Planes 1-14 blocks that hold characters NFKC changes or that are format characters.
_ASTRAL_BLOCKS = ((0x1D400, 0x1D7FF), (0x1F100, 0x1F1FF), (0x2F800, 0x2FA1F))
_TAGS = (0xE0000, 0xE007F)


def _compute(char: str) -> str:
    """What one character becomes: "" when removed, else its NFKC form."""
    code = ord(char)
    if unicodedata.category(char) == "Cf" or any(
        low <= code <= high for low, high in _REMOVED_RANGES
    ):
        return ""
    if char in _KEPT or 0xD800 <= code <= 0xDFFF:  # a lone surrogate has no normal form
        return char
    return unicodedata.normalize("NFKC", char)


_replacement = lru_cache(maxsize=4096)(_compute)


@cache
def _changing() -> re.Pattern[str]:
    """A character class of every character `_replacement` changes (built once)."""
    normalize, category = unicodedata.normalize, unicodedata.category
    codes = {
        code
        for low, high in ((0, 0xD7FF), (0xE000, 0xFFFF), *_ASTRAL_BLOCKS, _TAGS)
        for code in range(low, high + 1)
        if category(char := chr(code)) == "Cf" or normalize("NFKC", char) != char
    }
    codes.update(c for low, high in _REMOVED_RANGES for c in range(low, high + 1))
    codes.difference_update(ord(c) for c in _KEPT)
    ranges: list[tuple[int, int]] = []
    for code in sorted(codes):
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1] = (ranges[-1][0], code)
        else:
            ranges.append((code, code))
    body = "".join(
        re.escape(chr(low)) + ("-" + re.escape(chr(high)) if high > low else "")
        for low, high in ranges
    )
    return re.compile(f"[{body}]")


@dataclass(frozen=True, slots=True)
class Normalised:
    """A normalised text and, when lengths changed, where its characters came from.

    Attributes:
        text: The normalised text.
        breaks: Positions in `text` where the mapping to the original jumps
            (after a removed character, inside an expansion); empty when
            every character maps to the one at the same index.
        origins: For each break, the original index of the character there;
            a character between breaks maps linearly from the break before it.
    """

    text: str
    breaks: tuple[int, ...] = ()
    origins: tuple[int, ...] = ()

    def original_index(self, index: int) -> int:
        """The original index of the character at `index` of the normalised text."""
        at = bisect_right(self.breaks, index) - 1
        if at < 0:
            return index
        return self.origins[at] + index - self.breaks[at]

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map a non-empty span of the normalised text to the original text."""
        if not self.breaks:
            return start, end
        return self.original_index(start), self.original_index(end - 1) + 1


def normalise(text: str) -> Normalised:
    """Normalise `text` for matching (see the module docstring)."""
    changing = _changing()
    if changing.search(text) is None:
        return Normalised(text)
    pieces: list[str] = []
    breaks: list[int] = []
    origins: list[int] = []
    done = length = 0  # original characters consumed, normalised length so far
    for match in changing.finditer(text):
        at = match.start()
        replacement = _replacement(match.group())
        pieces += (text[done:at], replacement)
        length += at - done
        if len(replacement) != 1:
            for offset in range(
                1, len(replacement)
            ):  # the extra characters of an expansion
                breaks.append(length + offset)
                origins.append(at)
            breaks.append(length + len(replacement))  # what follows the character
            origins.append(at + 1)
        length += len(replacement)
        done = at + 1
    pieces.append(text[done:])
    return Normalised("".join(pieces), tuple(breaks), tuple(origins))

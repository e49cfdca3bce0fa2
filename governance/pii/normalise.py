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
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import NamedTuple

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


class _Tables(NamedTuple):
    """What the normalisation needs, built once from the Unicode database."""

    changing: re.Pattern[str]
    """Any character that `_replacement` may change."""
    irregular: re.Pattern[str]
    """Characters removed or expanded, and the astral blocks: text with none of
    them keeps its length and is normalised by `str.translate`."""
    one_to_one: dict[int, str]
    """Every other changing character and what it becomes."""


def _character_class(codes: Iterable[int]) -> str:
    """A regular expression character class of `codes`, as ranges."""
    ranges: list[tuple[int, int]] = []
    for code in sorted(codes):
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1] = (ranges[-1][0], code)
        else:
            ranges.append((code, code))
    return "".join(
        re.escape(chr(low)) + ("-" + re.escape(chr(high)) if high > low else "")
        for low, high in ranges
    )


@cache
def _tables() -> _Tables:
    """The character classes and the translation table (built on first use).

    Characters outside the Basic Multilingual Plane are tested by whole
    blocks, not one by one: a regular expression class with hundreds of
    astral ranges is tested range by range at every character, and a class of
    BMP characters alone is one table lookup.
    """
    normalize, category = unicodedata.normalize, unicodedata.category
    one_to_one: dict[int, str] = {}
    irregular: set[int] = set()
    for low, high in ((0, 0xD7FF), (0xE000, 0xFFFF)):
        for code in range(low, high + 1):
            char = chr(code)
            if char in _KEPT:
                continue
            if category(char) == "Cf" or any(
                first <= code <= last for first, last in _REMOVED_RANGES
            ):
                irregular.add(code)
            elif (normal := normalize("NFKC", char)) != char:
                if len(normal) == 1:
                    one_to_one[code] = normal
                else:
                    irregular.add(code)
    astral = "".join(
        f"{re.escape(chr(low))}-{re.escape(chr(high))}"
        for low, high in (*_ASTRAL_BLOCKS, _TAGS, _REMOVED_RANGES[-1])
    )
    return _Tables(
        changing=re.compile(f"[{_character_class([*one_to_one, *irregular])}{astral}]"),
        irregular=re.compile(f"[{_character_class(irregular)}{astral}]"),
        one_to_one=one_to_one,
    )


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
    tables = _tables()
    first = tables.changing.search(text)
    if first is None:
        return Normalised(text)
    if tables.irregular.search(text, first.start()) is None:
        return Normalised(text.translate(tables.one_to_one))
    pieces: list[str] = []
    breaks: list[int] = []
    origins: list[int] = []
    done = length = 0  # original characters consumed, normalised length so far
    for match in tables.changing.finditer(text, first.start()):
        at, char = match.start(), match.group()
        if ord(char) in tables.one_to_one:
            continue  # translated with the text around it
        replacement = _replacement(char)
        if replacement == char:
            continue  # an astral character NFKC keeps
        pieces += (text[done:at].translate(tables.one_to_one), replacement)
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
    pieces.append(text[done:].translate(tables.one_to_one))
    return Normalised("".join(pieces), tuple(breaks), tuple(origins))

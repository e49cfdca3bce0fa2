"""Find further occurrences of values already recognised elsewhere in the same text.

A number recognised as a mobile in one sentence is the same person's mobile
when it appears again after 订单号, where context alone would let it through;
a name introduced once (联系人张伟) is a name again in "张伟说". So every
exact repetition of a recognised value, standing as a token of its own, is an
entity of the same type too. Lookups are by set membership, linear in the text:

- numbers and ids: runs of ASCII letters and digits equal to the value without
  separators and case (``138 1234 5678`` recognised, ``13812345678`` repeated),
  or, for values of 11 characters or more, holding it (two card numbers typed
  without a space between them);
- e-mail addresses: address-shaped tokens, compared without case;
- names: positions of the names' first characters, not followed by another
  given-name character (张伟 does not match inside 张伟明).

Addresses, plates and IP addresses are left to the recognizers. With a few
values found, each is first counted in the text: a value that occurs once has
no repetition, and most texts need no scanning at all.
"""

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator

from governance.pii._names import GIVEN_NAME_CHARS
from governance.pii.types import Entity, EntityType

_ALNUM_RUN = re.compile(r"[0-9A-Za-z](?<![0-9A-Za-z].)[0-9A-Za-z]{4,}(?![0-9A-Za-z])")
GLUED = 11
"""Values at least this long (mobiles, IDs, cards) are found inside longer runs too."""
_EMAIL_TOKEN = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+[A-Za-z]")
_NOT_ALNUM = re.compile(r"[^0-9A-Za-z]")
_NOT_REPEATED = frozenset(
    {EntityType.CN_ADDRESS, EntityType.CN_LICENSE_PLATE, EntityType.IP_ADDRESS}
)


def repetitions(text: str, found: Iterable[Entity]) -> Iterator[Entity]:
    """Entities for every repetition in `text` of a value `found` there."""
    tokens: dict[str, Entity] = {}
    emails: dict[str, Entity] = {}
    names: dict[str, dict[str, Entity]] = defaultdict(dict)
    found = list(found)
    counts = _Occurrences(text) if len(found) <= _COUNTED else None
    for entity in found:
        value = text[entity.start : entity.end]
        if entity.type is EntityType.PERSON:
            if counts is None or counts.name(value):
                names[value[0]][value] = entity
        elif entity.type is EntityType.EMAIL_ADDRESS:
            if counts is None or counts.email(value.lower()):
                emails[value.lower()] = entity
        elif entity.type not in _NOT_REPEATED:
            key = _NOT_ALNUM.sub("", value).upper()
            if counts is None or counts.token(key):
                tokens[key] = entity
    if tokens:
        yield from _token_repetitions(text, tokens)
    if emails:
        for match in _EMAIL_TOKEN.finditer(text):
            source = emails.get(match.group().lower())
            if source is not None:
                yield Entity(source.type, match.start(), match.end(), source.score)
    if names:
        yield from _name_repetitions(text, names)


_COUNTED = 8
"""Up to this many values, each is first counted in the text (one pass per value)."""


class _Occurrences:
    """Whether a value occurs twice in a text, in the form it is compared in.

    Every value occurs once where it was found, so fewer than two occurrences
    mean no repetition: most texts stop here, before any scanning. Each form
    of the text (lower case, without separators) is made once, when needed.
    """

    def __init__(self, text: str) -> None:
        self._text = text
        self._lower: str | None = None
        self._compact: str | None = None

    def name(self, value: str) -> bool:
        """Whether the name `value` occurs twice."""
        return self._text.count(value) > 1

    def email(self, value: str) -> bool:
        """Whether the lower-case address `value` occurs twice, in any case."""
        if self._lower is None:
            self._lower = self._text.lower()
        return self._lower.count(value) > 1

    def token(self, key: str) -> bool:
        """Whether `key` (upper case, no separators) occurs twice in the text so written."""
        if self._compact is None:
            self._compact = _NOT_ALNUM.sub("", self._text).upper()
        return self._compact.count(key) > 1


def _token_repetitions(text: str, tokens: dict[str, Entity]) -> Iterator[Entity]:
    lengths = sorted({len(key) for key in tokens if len(key) >= GLUED}, reverse=True)
    for match in _ALNUM_RUN.finditer(text):
        run, start = match.group().upper(), match.start()
        source = tokens.get(run)
        if source is not None:
            yield Entity(source.type, start, match.end(), source.score)
            continue
        if not lengths or len(run) <= lengths[-1]:
            continue
        at = 0
        while at <= len(run) - lengths[-1]:
            found = next(
                (
                    n
                    for n in lengths
                    if at + n <= len(run) and run[at : at + n] in tokens
                ),
                0,
            )
            if found:
                source = tokens[run[at : at + found]]
                yield Entity(source.type, start + at, start + at + found, source.score)
            at += found or 1


def _name_repetitions(
    text: str, names: dict[str, dict[str, Entity]]
) -> Iterator[Entity]:
    firsts = re.compile("[" + re.escape("".join(names)) + "]")
    by_value = {value: e for group in names.values() for value, e in group.items()}
    for match in firsts.finditer(text):
        start = match.start()
        for end in range(min(start + 4, len(text)), start + 1, -1):  # 2 to 4 characters
            source = by_value.get(text[start:end])
            if source is not None and (
                end == len(text) or text[end] not in GIVEN_NAME_CHARS
            ):
                yield Entity(source.type, start, end, source.score)
                break

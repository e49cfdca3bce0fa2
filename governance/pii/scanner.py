"""Scan free text for personal values and mask them in place.

`scan(text)` normalises the text (`normalise`), runs every recognizer on it,
adds repetitions of what was found (`echo`), resolves overlaps (`resolve`) and
returns entities whose spans index the **original** text. `redact(text)`
replaces each entity's span with its type's display mask (`masks.MASKS`),
computed from the normalised value, and leaves everything else untouched.

This is the fast path: compiled regular expressions and validators called
directly, with no Presidio objects per call. `governance.pii.presidio` wraps
the same recognizers for Presidio's `AnalyzerEngine`.
"""

import re
from collections.abc import Iterable
from typing import NamedTuple

from governance.pii.echo import repetitions
from governance.pii.masks import MASKS
from governance.pii.normalise import Normalised, normalise
from governance.pii.recognizers import Recognizer, default_recognizers
from governance.pii.resolve import resolve
from governance.pii.types import Entity

_Cue = tuple[frozenset[str] | None, re.Pattern[str] | None]


class Redaction(NamedTuple):
    """A masked text and the entities that were masked (spans in the original)."""

    text: str
    entities: list[Entity]


class Scanner:
    """Recognizers run together; safe to share between threads."""

    def __init__(self, recognizers: Iterable[Recognizer] | None = None) -> None:
        self.recognizers = tuple(
            default_recognizers() if recognizers is None else recognizers
        )
        groups: dict[_Cue, list[Recognizer]] = {}
        for recognizer in self.recognizers:
            key = (recognizer.cue_chars, recognizer.cue)
            groups.setdefault(key, []).append(recognizer)
        self._groups = tuple((key, tuple(members)) for key, members in groups.items())
        cue_chars = {c for chars, _ in groups for c in chars or ()}
        # One pass over a text finds which cue characters it holds.
        self._cue_chars = re.compile(
            "[" + "".join(re.escape(c) for c in sorted(cue_chars)) + "]"
            if cue_chars
            else "(?!)"
        )

    def scan(self, text: str) -> list[Entity]:
        """Entities in `text`, disjoint and sorted, with spans in `text`."""
        normalised = normalise(text)
        return [self._to_original(normalised, e) for e in self._find(normalised.text)]

    def redact(self, text: str) -> Redaction:
        """`text` with every entity masked in place, and the entities."""
        normalised = normalise(text)
        pieces: list[str] = []
        entities: list[Entity] = []
        position = 0
        for found in self._find(normalised.text):
            entity = self._to_original(normalised, found)
            value = normalised.text[found.start : found.end]
            pieces += (text[position : entity.start], MASKS[entity.type](value))
            entities.append(entity)
            position = entity.end
        pieces.append(text[position:])
        return Redaction("".join(pieces), entities)

    def _find(self, text: str) -> list[Entity]:
        """Resolved entities in normalised `text` (normalised offsets)."""
        chars = frozenset(self._cue_chars.findall(text))
        candidates: list[Entity] = []
        for (cue_chars, cue), members in self._groups:
            if (cue_chars is None or not cue_chars.isdisjoint(chars)) and (
                cue is None or cue.search(text) is not None
            ):
                for recognizer in members:
                    candidates.extend(recognizer.find(text))
        if not candidates:
            return []
        found = resolve(candidates)
        again = list(repetitions(text, found))
        return resolve(found + again) if again else found

    @staticmethod
    def _to_original(normalised: Normalised, entity: Entity) -> Entity:
        if not normalised.breaks:
            return entity
        start, end = normalised.to_original(entity.start, entity.end)
        return Entity(entity.type, start, end, entity.score)


_DEFAULT = Scanner()


def scan(text: str) -> list[Entity]:
    """Entities in `text` found by the default recognizers (see `Scanner.scan`)."""
    return _DEFAULT.scan(text)


def redact(text: str) -> Redaction:
    """`text` masked by the default recognizers (see `Scanner.redact`)."""
    return _DEFAULT.redact(text)


class TextMasker:
    """The redactor of the `redact_text` obligation: a text with its personal values masked.

    Satisfies `governance.masking.operators.redact_text.TextRedactor`.
    """

    def __init__(self, scanner: Scanner | None = None) -> None:
        self._scanner = scanner or _DEFAULT

    def redact(self, text: str) -> str:
        """`text` with every personal value found masked in place."""
        return self._scanner.redact(text).text

"""The recognizer contract: normalised text in, entities (normalised offsets) out."""

import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import ClassVar

from governance.pii.types import Entity, EntityType


class Recognizer(ABC):
    """Finds personal values of `entity_types` in normalised text.

    `find` receives text already passed through `governance.pii.normalise` and
    yields entities whose offsets index that text. Recognizers are stateless
    after construction and safe to share between threads.

    `cue_chars` and `cue`, when set, are shortcuts: one of the characters
    occurs, and the pattern matches, somewhere in every text in which `find`
    can find anything. The scanner checks the characters against the set of a
    text's characters (made once per text), evaluates each distinct cue once
    per text, and skips the recognizers whose cue is absent. `find` gives the
    same result without them.
    """

    entity_types: ClassVar[tuple[EntityType, ...]]
    cue_chars: ClassVar[frozenset[str] | None] = None
    cue: ClassVar[re.Pattern[str] | None] = None

    @abstractmethod
    def find(self, text: str) -> Iterator[Entity]:
        """Yield every candidate in `text`; overlaps are resolved by the scanner."""

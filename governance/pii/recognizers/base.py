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

    `cue`, when set, matches somewhere in every text in which `find` can find
    anything; the scanner evaluates each distinct cue once per text and skips
    the recognizers whose cue is absent. It is only a shortcut: `find` gives
    the same result without it.
    """

    entity_types: ClassVar[tuple[EntityType, ...]]
    cue: ClassVar[re.Pattern[str] | None] = None

    @abstractmethod
    def find(self, text: str) -> Iterator[Entity]:
        """Yield every candidate in `text`; overlaps are resolved by the scanner."""

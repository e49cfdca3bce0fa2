"""The recognizer contract: normalised text in, entities (normalised offsets) out."""

from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import ClassVar

from governance.pii.types import Entity, EntityType


class Recognizer(ABC):
    """Finds personal values of `entity_types` in normalised text.

    `find` receives text already passed through `governance.pii.normalise` and
    yields entities whose offsets index that text. Recognizers are stateless
    after construction and safe to share between threads.
    """

    entity_types: ClassVar[tuple[EntityType, ...]]

    @abstractmethod
    def find(self, text: str) -> Iterator[Entity]:
        """Yield every candidate in `text`; overlaps are resolved by the scanner."""

"""What the scanner reports: an entity type and a span with a confidence score.

`Entity` spans count Unicode code points (Python string indices) of the text
that was scanned, `end` exclusive. An entity never holds the value it covers,
so it can be logged, audited and returned to callers.
"""

from dataclasses import dataclass
from enum import StrEnum


class EntityType(StrEnum):
    """Kinds of personal data found in free text (Presidio-style names)."""

    CN_MOBILE = "CN_MOBILE"
    CN_LANDLINE = "CN_LANDLINE"
    CN_ID_CARD = "CN_ID_CARD"
    CN_BANK_CARD = "CN_BANK_CARD"
    CN_USCC = "CN_USCC"
    CN_PASSPORT = "CN_PASSPORT"
    CN_TRAVEL_PERMIT = "CN_TRAVEL_PERMIT"
    CN_LICENSE_PLATE = "CN_LICENSE_PLATE"
    EMAIL_ADDRESS = "EMAIL_ADDRESS"
    IP_ADDRESS = "IP_ADDRESS"
    CN_WECHAT_ID = "CN_WECHAT_ID"
    CN_QQ = "CN_QQ"
    PERSON = "PERSON"
    CN_ADDRESS = "CN_ADDRESS"


VALIDATED = 0.95
"""Scores at or above this come from a checksum or an equally strong test."""


@dataclass(frozen=True, slots=True)
class Entity:
    """One personal value found in a text: its type, where it is, how sure we are."""

    type: EntityType
    start: int
    end: int
    score: float

    def __len__(self) -> int:
        return self.end - self.start

    def overlaps(self, other: "Entity") -> bool:
        """Whether the two spans share at least one character."""
        return self.start < other.end and other.start < self.end

    def as_dict(self) -> dict[str, str | int | float]:
        """The JSON form used by the API and the CLI: type, start, end, score."""
        return {
            "type": self.type.value,
            "start": self.start,
            "end": self.end,
            "score": self.score,
        }

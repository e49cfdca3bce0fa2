"""The consent ledger: append-only grant/withdraw events; state is the latest event.

Reads answer "what is this subject's consent for this purpose now?" for one
subject or a page of subjects. Writes are not done here: `grant_statement()` and
`withdraw_statement()` build the insert, and the caller commits it in the same
transaction as its audit event (see `audit.writer.AuditWriter.append`), so a
consent change is never stored without its audit event, nor the reverse.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import Insert, bindparam, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

from governance.consent.models import ConsentEvent
from governance.types import ConsentState


class ConsentAction(StrEnum):
    """What a consent event records."""

    GRANTED = "granted"
    WITHDRAWN = "withdrawn"


_STATE_OF = {
    ConsentAction.GRANTED.value: ConsentState.GRANTED,
    ConsentAction.WITHDRAWN.value: ConsentState.WITHDRAWN,
}


@dataclass(frozen=True)
class ConsentChange:
    """A validated consent event about to be recorded."""

    subject_id: str
    purpose: str
    action: ConsentAction
    notice_version: str
    method: str
    channel: str
    recorded_by: str

    def statement(self) -> tuple[str, Insert]:
        """The event id and the insert that records this change."""
        event_id = str(uuid.uuid4())
        values = {
            "event_id": event_id,
            "subject_id": self.subject_id,
            "purpose": self.purpose,
            "action": self.action.value,
            "notice_version": self.notice_version,
            "method": self.method,
            "channel": self.channel,
            "recorded_at": datetime.now(UTC),
            "recorded_by": self.recorded_by,
        }
        return event_id, insert(ConsentEvent).values(**values)


# Built once: the hot path binds values into it instead of building a statement.
_STATE = (
    select(col(ConsentEvent.action))
    .where(
        col(ConsentEvent.subject_id) == bindparam("subject_id"),
        col(ConsentEvent.purpose) == bindparam("purpose"),
    )
    .order_by(col(ConsentEvent.id).desc())
    .limit(1)
)


class ConsentLedger:
    """Reads consent state from the governance store."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def state(self, subject_id: str, purpose: str) -> ConsentState:
        """The subject's current consent for `purpose`."""
        async with self._engine.connect() as conn:
            result = await conn.execute(
                _STATE, {"subject_id": subject_id, "purpose": purpose}
            )
            action = result.scalar_one_or_none()
        return _STATE_OF.get(action or "", ConsentState.NONE)

    async def states(
        self, subject_ids: Sequence[str], purpose: str
    ) -> dict[str, ConsentState]:
        """Current consent for `purpose` of each subject in `subject_ids`."""
        if not subject_ids:
            return {}
        stmt = (
            select(col(ConsentEvent.subject_id), col(ConsentEvent.action))
            .where(
                col(ConsentEvent.subject_id).in_(subject_ids),
                col(ConsentEvent.purpose) == purpose,
            )
            .order_by(col(ConsentEvent.id))
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        latest = dict(rows)  # rows are in ledger order, so the latest event wins
        return {
            s: _STATE_OF.get(latest.get(s, ""), ConsentState.NONE) for s in subject_ids
        }

    async def history(self, subject_id: str) -> list[ConsentEvent]:
        """Every consent event of the subject, oldest first."""
        stmt = (
            select(ConsentEvent)
            .where(col(ConsentEvent.subject_id) == subject_id)
            .order_by(col(ConsentEvent.id))
        )
        async with self._engine.connect() as conn:
            return [
                ConsentEvent.model_validate(r._mapping)
                for r in (await conn.execute(stmt)).all()
            ]

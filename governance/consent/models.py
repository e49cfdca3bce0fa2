"""The consent ledger table: append-only consent events per subject and purpose.

Actions: `granted`, `withdrawn`, `expired`, `superseded` (an older grant replaced
by a newer one), and for the personalisation opt-out (A-01, purpose
`personalisation`) `opted_out` / `opted_in`. Rows are only ever inserted.
"""

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel


class ConsentEventBase(SQLModel):
    """What a consent event says."""

    subject_id: str = Field(max_length=128)
    purpose: str = Field(max_length=64)
    action: str = Field(max_length=16)
    notice_version: str = Field(max_length=64)
    method: str = Field(max_length=32)
    channel: str = Field(max_length=32)
    scope: str = Field(default="[]", description="JSON list of categories covered.")
    kind: str = Field(
        default="general", max_length=16, description="general|separate|guardian"
    )
    grantor: str = Field(default="self", max_length=16, description="self|guardian")
    evidence_hash: str | None = Field(default=None, max_length=64)
    expires_at: datetime | None = None
    declared_frequency: str | None = Field(default=None, max_length=32)
    refers_to: str | None = Field(
        default=None,
        max_length=36,
        description="The grant a superseded/expired event ends.",
    )


class ConsentEvent(ConsentEventBase, table=True):
    """A stored consent event."""

    __tablename__ = "consent_events"
    __table_args__ = (
        Index("ix_consent_subject_purpose", "subject_id", "purpose", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(unique=True, max_length=36)
    recorded_at: datetime
    recorded_by: str = Field(max_length=64)

"""The consent ledger table: append-only grant and withdraw events per subject and purpose."""

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel


class ConsentEventBase(SQLModel):
    """What a consent event says."""

    subject_id: str = Field(max_length=128)
    purpose: str = Field(max_length=64)
    action: str = Field(max_length=16, description="granted | withdrawn")
    notice_version: str = Field(max_length=64)
    method: str = Field(max_length=32)
    channel: str = Field(max_length=32)


class ConsentEvent(ConsentEventBase, table=True):
    """A stored consent event; rows are only ever inserted."""

    __tablename__ = "consent_events"
    __table_args__ = (
        Index("ix_consent_subject_purpose", "subject_id", "purpose", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(unique=True, max_length=36)
    recorded_at: datetime
    recorded_by: str = Field(max_length=64)

"""The caller registry table: one row per caller, its key stored only as a hash."""

from datetime import datetime

from sqlmodel import Field, SQLModel


class CallerBase(SQLModel):
    """Properties shared by every view of a caller."""

    name: str = Field(primary_key=True, max_length=64)
    role: str = Field(max_length=16)
    purposes: str = Field(default="[]", description="JSON list of purpose names.")


class Caller(CallerBase, table=True):
    """A caller as stored: the key's id and hash, never the key itself."""

    __tablename__ = "callers"

    key_id: str = Field(unique=True, index=True, max_length=32)
    key_hash: str = Field(max_length=64)
    created_at: datetime
    revoked_at: datetime | None = None

"""The caller registry table: one row per caller, its key stored only as a hash."""

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


class CallerBase(SQLModel):
    """Properties shared by every view of a caller."""

    name: str = Field(primary_key=True, max_length=64)
    role: str = Field(max_length=16)
    purposes: str = Field(default="[]", description="JSON list of purpose names.")
    records_consent: bool = Field(
        default=False,
        sa_column_kwargs={"server_default": sa.false()},
        description="May give consent on a subject's behalf (grants, opt-ins, links).",
    )


class Caller(CallerBase, table=True):
    """A caller as stored: the key's id and hash, never the key itself."""

    __tablename__ = "callers"

    key_id: str = Field(unique=True, index=True, max_length=32)
    key_hash: str = Field(max_length=64)
    created_at: datetime
    revoked_at: datetime | None = None

"""Request and response bodies of the HTTP API (also what OpenAPI shows)."""

from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
)

_NAME = Field(min_length=1, max_length=64)


def iso_text(value: Any) -> Any:
    """ISO 8601 text only: left to itself, pydantic reads a number, or a string of
    digits such as a phone number, as a Unix time."""
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError(
        "must be ISO 8601 text with an offset, e.g. 2026-03-01T10:00:00+08:00"
    )


# Bodies are JSON: a count is a JSON integer, a flag true or false, an instant text.
_Instant = Annotated[AwareDatetime, BeforeValidator(iso_text)]
_Count = Annotated[int, Strict()]
_Flag = Annotated[bool, Strict()]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Where(_In):
    """Audience filter on marketing tags."""

    tags_any: list[str] = Field(default_factory=list, max_length=50)
    tags_all: list[str] = Field(default_factory=list, max_length=50)


class QueryIn(_In):
    """A governed query: which fields of which audience."""

    fields: list[str] | None = Field(None, min_length=1, max_length=100)
    where: Where = Field(default_factory=Where)
    limit: _Count | None = Field(None, ge=1, le=1_000_000)
    cursor: str | None = Field(None, max_length=512)


class RecordOut(BaseModel):
    """One subject's record, as the policy lets it leave."""

    dataset: str
    subject_id: str
    record: dict[str, Any]
    obligations: dict[str, str]
    decision_id: str


class QueryOut(BaseModel):
    """One page of a governed query."""

    records: list[dict[str, Any]]
    next_cursor: str | None
    decision_id: str
    excluded: dict[str, int]


class ConsentIn(_In):
    """A consent the subject gave through the brand's app or another channel."""

    purpose: str = _NAME
    notice_version: str = Field(min_length=1, max_length=64, pattern=r"^[\w.\-]+$")
    method: str = Field(min_length=1, max_length=32)
    channel: str = Field(min_length=1, max_length=32)
    kind: str = Field("general", description="general, separate or guardian.")
    grantor: str = Field("self", description="self, or guardian for a child under 14.")
    scope: list[str] | None = Field(
        None, max_length=50, description="Categories covered; default: the notice's."
    )
    evidence: dict[str, Any] = Field(
        min_length=1,
        description="What proves the act, e.g. the screen, its version, the time and"
        " device of the tap (C-02: an auditor asks for it; kept as a SHA-256 hash"
        " only; <= 16 KiB).",
    )
    expires_at: _Instant | None = None
    declared_frequency: str | None = Field(
        None, max_length=16, description="For messaging purposes, e.g. '4/month'."
    )


class PersonalisationIn(_In):
    """Turn personalised processing on or off for the subject (A-01)."""

    enabled: _Flag
    channel: str = Field("api", min_length=1, max_length=32)


class WithdrawIn(_In):
    """How the subject withdrew (optional; defaults suit a one-tap withdrawal)."""

    method: str = Field("user_request", min_length=1, max_length=32)
    channel: str = Field("api", min_length=1, max_length=32)


class ConsentEventOut(BaseModel):
    """One event of the consent ledger."""

    event_id: str
    purpose: str
    action: str
    notice_version: str
    method: str
    channel: str
    recorded_at: datetime
    recorded_by: str


class ConsentStateOut(BaseModel):
    """A subject's current consent for one purpose."""

    purpose: str
    state: str
    since: datetime | None
    notice_version: str | None


class ConsentsOut(BaseModel):
    """A subject's consents: current state per purpose and the full history."""

    subject_id: str
    consents: list[ConsentStateOut]
    events: list[ConsentEventOut]


class CallerIn(_In):
    """A caller to register."""

    name: str = Field(min_length=2, max_length=63)
    role: str = Field(pattern=r"^(service|officer|admin)$")
    purposes: list[str] = Field(default_factory=list, max_length=50)
    records_consent: _Flag = Field(
        False,
        description="Service only: may record grants and opt-ins and open the"
        " subject's consent center (the app that asks the subject).",
    )


class CallerOut(BaseModel):
    """A registered caller; the key appears only in the answer that created it."""

    name: str
    role: str
    purposes: list[str]
    key_id: str
    created_at: datetime
    revoked_at: datetime | None
    records_consent: bool
    key: str | None = None


class VerifyOut(BaseModel):
    """Whether the audit trail is intact, and the first fault of each kind."""

    ok: bool
    events: int
    chains: int
    first_bad: dict[str, Any] | None
    checkpoints: int
    sealed: int
    unsealed: int
    latest_checkpoint: dict[str, Any] | None
    checkpoint_fault: dict[str, Any] | None
    signatures_checked: bool
    purge_fault: dict[str, Any] | None
    altered_shape: str | None = Field(
        None, description="A stored decision shape that no longer gives its id."
    )


class CenterLinkIn(_In):
    """How long a consent-center link stays valid."""

    ttl_minutes: _Count = Field(30, ge=1, le=1440, description="1 minute to 24 hours.")


class CenterLinkOut(BaseModel):
    """A link that opens the subject's consent center; hand it only to the subject."""

    url: str = Field(description="Path of the page: /consent-center/<token>.")
    expires_at: datetime


class EventsOut(BaseModel):
    """One page of audit events, newest first."""

    events: list[dict[str, Any]]
    next_cursor: str | None = Field(
        description="Pass as `cursor`, with the same filters, for the next page."
    )


class BreachFieldOut(BaseModel):
    """One field a caller received: its category and subjects per obligation."""

    category: str | None
    subjects: dict[str, int] = Field(description="obligation -> subjects")


class BreachRecordOut(BaseModel):
    """One subject whose data the caller received."""

    dataset: str
    subject_ref: str
    subject_id: str | None = Field(
        None, description="With resolve=true: the id, or null if no longer found."
    )
    fields: dict[str, list[str]] = Field(
        description="field -> obligations it left under"
    )
    purposes: list[str]
    selected_by: dict[str, dict[str, Any]] = Field(
        description="tag a query picked the subject by -> its category and whether"
        " it is sensitive (null: no longer declared)"
    )
    recipients: list[dict[str, Any]] = Field(
        description="third parties the data went to: name, cross_border"
    )
    events: int
    first: str
    last: str


class BreachOut(BaseModel):
    """What a caller received in a time range (K-06)."""

    caller: str
    since: str
    until: str
    events: dict[str, int] = Field(description="allowed events by kind")
    subjects: int
    fields: dict[str, dict[str, BreachFieldOut]] = Field(
        description="dataset -> field -> summary"
    )
    detokenised: dict[str, Any] = Field(
        description="tokens opened and their categories (tokens name no subject)"
    )
    purged_events: int = Field(
        description="allowed reads, queries and detokenisings of the range that"
        " retention emptied: their caller is gone, so the answer may be partial"
    )
    tags: dict[str, dict[str, Any]] = Field(
        description="dataset -> tag -> category, sensitive, subjects selected by it"
    )
    recipients: list[dict[str, Any]] = Field(
        description="third parties: name, cross_border, subjects"
    )
    records: list[BreachRecordOut]
    resolved: dict[str, int] | None = Field(
        None, description="With resolve=true: subjects found and not found."
    )

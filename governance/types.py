"""Core value types shared by the access pipeline, the policy and the audit trail.

Everything here is a frozen value: the pipeline builds them from a request and
the catalog, the policy decides from them, and the audit trail records them.
None of them ever holds a personal value except `Record` rows on their way out.
"""

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Role(StrEnum):
    """What a caller may do: read data, read the audit trail, or manage configuration."""

    SERVICE = "service"
    OFFICER = "officer"
    ADMIN = "admin"


class Obligation(StrEnum):
    """What must happen to a field before it leaves the proxy.

    The policy names one per field; `governance.masking` carries it out with
    the parameters the catalog gives the field's category and the purpose.
    """

    KEEP = "keep"
    MASK = "mask"
    PSEUDONYMISE = "pseudonymise"
    TOKENISE = "tokenise"
    GENERALISE = "generalise"
    REDACT_TEXT = "redact_text"
    WITHHOLD = "withhold"


class ConsentState(StrEnum):
    """A subject's current consent for one purpose, derived from the ledger."""

    GRANTED = "granted"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"
    NONE = "none"
    NOT_REQUIRED = "not_required"


class Outcome(StrEnum):
    """How an audited action ended."""

    ALLOWED = "allowed"
    DENIED = "denied"
    ERROR = "error"


class Actor(StrEnum):
    """The proxy's own actors: the caller their audit events name.

    No caller may be registered under one of these names, or its events would
    pass for theirs in the trail.
    """

    CLI = "cli"
    CONSENT_CENTER = "consent-center"
    DEMO_SETUP = "demo-setup"
    DEMO_IMPORT = "demo-import"
    EXPIRY_SWEEP = "expiry-sweep"
    RETENTION = "retention"


@dataclass(frozen=True)
class Principal:
    """An authenticated caller."""

    name: str
    role: Role
    purposes: frozenset[str]
    records_consent: bool = False
    """May record what the subject agreed to (a grant, an opt-in) and open the
    subject's consent center: the system that asks the subject, not one that
    only uses the data (admins may too)."""


@dataclass(frozen=True)
class FieldFact:
    """A field (or tag) as the policy sees it: its name and classification, never a value."""

    name: str
    category: str
    sensitive: bool


@dataclass(frozen=True)
class Decision:
    """The policy's answer for one access shape."""

    allow: bool
    reasons: tuple[str, ...]
    obligations: dict[str, Obligation] = field(hash=False)
    revision: str


Record = dict[str, Any]

"""Turn one CSV row into a validated grant: `validate_grant` plus the import's own checks.

Each row's terms become a `GrantRequest` checked by
`governance.consent.grant.validate_grant` exactly as the API checks a grant. Then
come the checks of what only an import states: the instant of consent
(`granted_at`: ISO 8601 with an offset, not in the future, not before the cited
notice was published, before `expires_at`) and the SCRM's evidence hash, which
is stored as given instead of hashing an evidence object.

`validate_grant` depends on the catalog, the instant and the terms, not on the
subject, so its answer is kept per distinct terms (every column but
`subject_id`, `granted_at`, `expires_at` and `evidence_hash`): a file of 100,000
rows has a few dozen, and rows that share them share one check. The one rule
`validate_grant` applies to `expires_at` (it must be in the future) is applied
to each row's own expiry, with the same words.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time
from operator import itemgetter
from typing import Any, NamedTuple

from governance.catalog import Catalog
from governance.consent.csvfile import REQUIRED
from governance.consent.grant import GrantRequest, given_utc, validate_grant
from governance.consent.ledger import ConsentChange
from governance.errors import InvalidRequest
from governance.subjects import CHINA_TZ

EVIDENCE_HASH = re.compile(r"[0-9a-fA-F]{64}")
MAX_SUBJECT_ID = 128
_REQUIRED = REQUIRED  # subject_id, purpose, notice_version, method, channel, granted_at
_TERMS = (
    "purpose",
    "notice_version",
    "method",
    "channel",
    "kind",
    "grantor",
    "scope",
    "declared_frequency",
)
_required = itemgetter(*_REQUIRED)
_terms_of: Callable[[dict[str, str]], tuple[str, ...]] = itemgetter(*_TERMS)


@dataclass(frozen=True)
class GrantTerms:
    """A grant as `validate_grant` accepted it, without subject: shared by many rows."""

    change: ConsentChange
    columns: dict[str, Any]  # its stored columns but ids, subject, evidence, expiry
    not_before: datetime  # when its notice was published (00:00 China time)


class ImportRow(NamedTuple):
    """A row that passed every check of its own."""

    line: int
    subject_id: str
    granted_at: datetime
    expires_at: datetime | None
    evidence_hash: str | None
    terms: GrantTerms

    def columns(self, event_id: str, follows: str | None) -> dict[str, Any]:
        """The stored consent row; `recorded_at` is when consent was given, and
        `follows` what it follows (None when a `superseded` event names that)."""
        return self.terms.columns | {
            "event_id": event_id,
            "refers_to": follows,
            "subject_id": self.subject_id,
            "evidence_hash": self.evidence_hash,
            "expires_at": self.expires_at,
            "recorded_at": self.granted_at,
        }


class RowValidator:
    """Validates rows against one catalog at one instant (`now`)."""

    def __init__(self, catalog: Catalog, *, recorded_by: str, now: datetime) -> None:
        self._catalog = catalog
        self._recorded_by = recorded_by
        self._now = now
        # Per distinct terms (raw texts): the accepted terms, or why they are not.
        self._checked: dict[tuple[str, ...], GrantTerms | str] = {}

    def row(self, line: int, values: dict[str, str]) -> ImportRow:
        """The validated row, or `InvalidRequest` naming its first fault."""
        if not all(_required(values)):
            missing = [c for c in _REQUIRED if not values[c]]
            raise InvalidRequest(f"required value missing: {', '.join(missing)}")
        subject_id, granted = values["subject_id"], values["granted_at"]
        if len(subject_id) > MAX_SUBJECT_ID:
            raise InvalidRequest(
                f"subject_id is longer than {MAX_SUBJECT_ID} characters"
            )
        granted_at = instant(granted, "granted_at")
        expires = values["expires_at"]
        expires_at = instant(expires, "expires_at") if expires else None
        key = _terms_of(values)
        terms = self._checked.get(key)
        if terms is None:
            terms = self._checked[key] = self._terms(key)
        if isinstance(terms, str):
            raise InvalidRequest(terms)
        evidence = _evidence_hash(values["evidence_hash"])
        _check_times(granted_at, expires_at, terms, self._now)
        return ImportRow(line, subject_id, granted_at, expires_at, evidence, terms)

    def _terms(self, key: tuple[str, ...]) -> GrantTerms | str:
        """`validate_grant`'s verdict on these terms: accepted terms, or the reason."""
        terms = dict(zip(_TERMS, key, strict=True))
        try:
            request = GrantRequest(
                subject_id="",
                purpose=terms["purpose"],
                notice_version=terms["notice_version"],
                method=terms["method"],
                channel=terms["channel"],
                kind=terms["kind"] or "general",
                grantor=terms["grantor"] or "self",
                scope=_scope(terms["scope"]),
                declared_frequency=terms["declared_frequency"] or None,
            )
            change = validate_grant(
                self._catalog, request, recorded_by=self._recorded_by, now=self._now
            )
        except InvalidRequest as exc:
            return exc.detail
        notice = self._catalog.notice(change.purpose, change.notice_version)
        published = notice.published if notice else datetime.min.date()
        not_before = datetime.combine(published, time(), CHINA_TZ)
        return GrantTerms(change, _shared_columns(change), not_before)


def _check_times(
    granted_at: datetime, expires_at: datetime | None, terms: GrantTerms, now: datetime
) -> None:
    if granted_at > now:
        raise InvalidRequest("granted_at is in the future")
    if expires_at is not None:
        if expires_at <= now:  # validate_grant's rule, with its words
            raise InvalidRequest("expires_at must be in the future")
        if expires_at <= granted_at:
            raise InvalidRequest("expires_at must be after granted_at")
    if granted_at < terms.not_before:
        raise InvalidRequest(
            f"granted_at is before notice {terms.change.notice_version} was "
            f"published ({terms.not_before.date().isoformat()})"
        )


def _shared_columns(change: ConsentChange) -> dict[str, Any]:
    columns = change.values("", datetime.min)
    per_row = ("event_id", "subject_id", "evidence_hash", "expires_at", "recorded_at")
    for column in per_row:
        del columns[column]
    return columns


def instant(text: str, column: str) -> datetime:
    """The UTC instant `text` states: ISO 8601 with an offset."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidRequest(f"{column} is not an ISO 8601 date-time") from None
    if moment.tzinfo is None:
        raise InvalidRequest(
            f"{column} needs a UTC offset, like 2026-03-01T08:00:00+08:00"
        )
    return given_utc(moment, column)


def _scope(text: str) -> tuple[str, ...] | None:
    if not text:
        return None  # the notice's categories
    scope = tuple(part.strip() for part in text.split("|"))
    if not all(scope):
        raise InvalidRequest("scope has an empty category; separate categories by |")
    return scope


def _evidence_hash(text: str) -> str | None:
    if not text:
        return None
    if not EVIDENCE_HASH.fullmatch(text):
        raise InvalidRequest("evidence_hash must be 64 hexadecimal digits (SHA-256)")
    return text.lower()

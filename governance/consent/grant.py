"""Validate a consent before it is recorded: PIPL Art. 14-15, 29, 31 (C-02..C-05, SC-01, M-02).

`validate_grant()` turns what the brand's app (or an import) says into a
`ConsentChange`, or raises `InvalidRequest` naming what is wrong. It never
touches the store; `changes_for_grant()` and `changes_for_withdrawal()` add the
ledger's view (what the new event supersedes, whether there is anything to
withdraw) and return the events to record.
"""

import hashlib
import math
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any

import orjson

from governance.catalog import Catalog, Notice, Purpose
from governance.consent.ledger import (
    PERSONALISATION,
    ConsentAction,
    ConsentChange,
    ConsentLedger,
    first_grant_claim,
)
from governance.consent.rules import check_evidence
from governance.errors import InvalidRequest
from governance.types import ConsentState

MAX_EVIDENCE_BYTES = 16 * 1024
_PLAIN_JSON = (
    "evidence must be plain JSON: finite numbers, integers within 64 bits, text"
    " without lone surrogates, at most 255 levels deep"
)
FREQUENCY = re.compile(r"[1-9]\d{0,2}/(day|week|month)")
_PERIOD_DAYS = {"day": 1, "week": 7, "month": 30}
KINDS = ("general", "separate", "guardian")
GRANTORS = ("self", "guardian")


@dataclass(frozen=True)
class GrantRequest:
    """A consent as the brand reports it."""

    subject_id: str
    purpose: str
    notice_version: str
    method: str
    channel: str
    kind: str = "general"
    grantor: str = "self"
    scope: tuple[str, ...] | None = None
    evidence: Any = None
    expires_at: datetime | None = None
    declared_frequency: str | None = None


def consent_purpose(catalog: Catalog, name: str) -> Purpose:
    """The declared purpose `name`, if its legal basis is consent."""
    purpose = catalog.purposes.get(name)
    if purpose is None:
        raise InvalidRequest("purpose names no declared purpose")
    if not purpose.requires_consent:
        raise InvalidRequest("this purpose's legal basis is not consent")
    return purpose


def validate_grant(
    catalog: Catalog, req: GrantRequest, *, recorded_by: str, now: datetime
) -> ConsentChange:
    """The change recording `req`, or `InvalidRequest` saying what is wrong."""
    purpose = consent_purpose(catalog, req.purpose)
    notice = _notice(catalog, purpose, req.notice_version)
    check_evidence(req.method, req.channel)
    scope = _scope(catalog, notice, req)
    expires_at = _expiry(req.expires_at, now)
    if purpose.messaging:
        _check_frequency(req.declared_frequency, notice)
    return ConsentChange(
        subject_id=req.subject_id,
        purpose=purpose.name,
        action=ConsentAction.GRANTED,
        notice_version=notice.version,
        method=req.method,
        channel=req.channel,
        recorded_by=recorded_by,
        scope=scope,
        kind=req.kind,
        grantor=req.grantor,
        evidence_hash=evidence_hash(req.evidence),
        expires_at=expires_at,
        declared_frequency=req.declared_frequency if purpose.messaging else None,
    )


def _check_frequency(declared: str | None, notice: Notice) -> None:
    """A messaging consent declares how often messages come, and no more often
    than its notice promised (MSG-02: the subject agreed to what they were told)."""
    if not FREQUENCY.fullmatch(declared or ""):
        raise InvalidRequest(
            "messaging purposes need declared_frequency like '4/month'"
        )
    promised = notice.frequency
    if promised is not None and _per_day(declared or "") > _per_day(promised):
        raise InvalidRequest(
            f"declared_frequency is more often than notice {notice.version}"
            f" promises ({promised})"
        )


def _per_day(frequency: str) -> Fraction:
    """Messages a day, counting a month as 30 days: `4/month` is 2/15."""
    count, _, period = frequency.partition("/")
    return Fraction(int(count), _PERIOD_DAYS[period])


def given_utc(moment: datetime, name: str) -> datetime:
    """An aware instant a caller gave, in UTC; `InvalidRequest` if UTC cannot
    hold it (a year-9999 time west of UTC falls in year 10000)."""
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise InvalidRequest(f"{name} is out of range") from None


def _expiry(moment: datetime | None, now: datetime) -> datetime | None:
    """`moment` in UTC, if it is a future instant."""
    if moment is None:
        return None
    moment = given_utc(moment, "expires_at")
    if moment <= now:
        raise InvalidRequest("expires_at must be in the future")
    return moment


def _notice(catalog: Catalog, purpose: Purpose, version: str) -> Notice:
    notice = catalog.notice(purpose.name, version)
    if notice is None:
        raise InvalidRequest("notice_version names no notice of this purpose")
    if notice.retired:
        raise InvalidRequest(
            "notice_version names a retired notice; cite the current one"
        )
    if (purpose.name, version) not in catalog.lasting_notices:  # stale at birth
        raise InvalidRequest(
            "notice_version names a notice the current one changed in substance;"
            " cite the current one"
        )
    return notice


def _scope(catalog: Catalog, notice: Notice, req: GrantRequest) -> tuple[str, ...]:
    if req.kind not in KINDS or req.grantor not in GRANTORS:
        raise InvalidRequest(f"kind must be one of {KINDS}; grantor one of {GRANTORS}")
    if (req.kind == "guardian") != (req.grantor == "guardian"):
        raise InvalidRequest("guardian consent is given by a guardian, and only that")
    scope = (
        tuple(sorted(set(req.scope)))
        if req.scope is not None
        else tuple(sorted(notice.categories))
    )
    if not scope or not set(scope) <= notice.categories:
        raise InvalidRequest("scope must be a non-empty part of what the notice covers")
    sensitive = any(catalog_sensitive(catalog, c) for c in scope)
    if (sensitive or notice.kind == "separate") and req.kind == "general":
        raise InvalidRequest("sensitive personal information needs separate consent")
    return scope


def catalog_sensitive(catalog: Catalog, category: str) -> bool:
    """Whether a category is sensitive, judged by the catalog's fields and tags."""
    facts = [f for ds in catalog.datasets.values() for f in ds.fields.values()]
    facts += list(catalog.tags.values())
    return any(f.sensitive for f in facts if f.category == category)


def evidence_hash(evidence: Any) -> str | None:
    """SHA-256 of the evidence's canonical JSON; the evidence itself is not kept."""
    if evidence is None:
        return None
    try:
        raw = orjson.dumps(evidence, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:
        raise InvalidRequest(_PLAIN_JSON) from None
    if len(raw) > MAX_EVIDENCE_BYTES:
        raise InvalidRequest(f"evidence is limited to {MAX_EVIDENCE_BYTES} bytes")
    if not _finite(evidence):  # NaN would hash as null: two acts, one fingerprint
        raise InvalidRequest(_PLAIN_JSON)
    return hashlib.sha256(raw).hexdigest()


def _finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    return True


async def changes_for_grant(
    ledger: ConsentLedger, change: ConsentChange, *, now: datetime
) -> list[ConsentChange]:
    """The grant, preceded by a `superseded` event when it replaces a live grant.

    Either names what it follows (`first_grant_claim`), so that of two grants
    made from one state at once only one is stored.
    """
    current = await ledger.current(change.subject_id, change.purpose, now=now)
    if current.state is not ConsentState.GRANTED:
        follows = current.event_id or first_grant_claim(
            change.subject_id, change.purpose
        )
        return [replace(change, refers_to=follows)]
    return [change.ending(current.event_id, current.notice_version), change]


async def changes_for_withdrawal(
    ledger: ConsentLedger,
    subject_id: str,
    purpose: Purpose,
    *,
    method: str,
    channel: str,
    recorded_by: str,
    now: datetime,
) -> list[ConsentChange]:
    """A `withdrawn` event if there is a live grant; nothing otherwise (idempotent)."""
    check_evidence(method, channel)
    current = await ledger.current(subject_id, purpose.name, now=now)
    if current.state is not ConsentState.GRANTED:
        return []
    return [
        ConsentChange(
            subject_id=subject_id,
            purpose=purpose.name,
            action=ConsentAction.WITHDRAWN,
            notice_version=current.notice_version or "",
            method=method,
            channel=channel,
            recorded_by=recorded_by,
            scope=tuple(sorted(current.scope)),
            kind=current.kind or "general",
            grantor=current.grantor or "self",
            refers_to=current.event_id,
        )
    ]


OPT_METHOD = "user_request"  # the subject asked, wherever it is recorded


def opt_change(
    subject_id: str,
    action: ConsentAction,
    channel: str,
    by: str,
    *,
    reverses: str | None = None,
) -> ConsentChange:
    """The ledger event of a personalisation opt-out or opt-in (A-01), naming the
    opt event it `reverses` (if any)."""
    return ConsentChange(
        subject_id,
        PERSONALISATION,
        action,
        "-",
        OPT_METHOD,
        channel,
        by,
        refers_to=reverses,
    )


async def changes_for_opt(
    ledger: ConsentLedger,
    subject_id: str,
    action: ConsentAction,
    channel: str,
    by: str,
) -> list[ConsentChange]:
    """The opt-out or opt-in, unless personalisation is already so (idempotent:
    it is on until the subject turns it off)."""
    found = await ledger.deciding(subject_id, PERSONALISATION)
    on = found is None or found[0] != ConsentAction.OPTED_OUT
    if on == (action is ConsentAction.OPTED_IN):
        return []
    reverses = found[1] if found else None
    return [opt_change(subject_id, action, channel, by, reverses=reverses)]

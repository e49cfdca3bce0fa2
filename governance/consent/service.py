"""Consent changes as the API and the consent center make them.

Each helper queues ledger events on a `Trail` (so they commit with its audit
event) or answers a question both entry points ask.
"""

from datetime import UTC, datetime
from typing import Any

from governance.consent.grant import changes_for_withdrawal
from governance.consent.ledger import ConsentChange
from governance.errors import ForbiddenRole, InvalidRequest, UnknownSubject
from governance.pipeline import facts_columns
from governance.services import Services
from governance.subjects import china_date, minor_of
from governance.trail import Trail
from governance.types import Principal, Role


def require_recorder(principal: Principal) -> None:
    """Only a caller that records consent may say the subject agreed: a grant, an
    opt-in, a consent-center link (which lets its holder act as the subject).

    A service that only uses the data may withdraw or opt out (it can only
    narrow processing), never the reverse: else one leaked key of a marketing
    tool could re-grant what the subject withdrew. Admins may.
    """
    if principal.role is Role.SERVICE and not principal.records_consent:
        raise ForbiddenRole(
            "giving consent in a subject's name needs a caller that records consent"
        )


def record(
    trail: Trail, changes: list[ConsentChange], *, at: datetime | None = None
) -> list[str]:
    """Queue `changes` to commit with the trail's audit event, recorded `at` (now
    by default; a grant passes the instant its receipt states); return their ids."""
    ids = []
    for change in changes:
        event_id, _, stmt = change.statement(at)
        trail.also.append(stmt)
        ids.append(event_id)
    trail.detail["consent_event_ids"] = ids
    return ids


async def grantable_subject(
    services: Services, subject_id: str, grantor: str, *, now: datetime
) -> None:
    """Raise unless a catalogued dataset holds the subject and, if it is under
    14 by its birth date or ID number, the consent is its guardian's (M-01).

    The policy refuses a child's own consent at every read anyway; refusing to
    record it keeps it from replacing a guardian's consent that was in force,
    and keeps a receipt from saying a child consented.
    """
    for dataset in services.catalog.datasets.values():  # the first that holds it
        row = await services.source.fetch_record(
            dataset, subject_id, facts_columns(dataset)
        )
        if row is None:
            continue
        minor = minor_of(row, dataset, china_date(now))
        if minor and grantor != "guardian":
            raise InvalidRequest(
                "the subject is under 14: only a guardian can consent for them"
                " (kind guardian, grantor guardian)"
            )
        return
    raise UnknownSubject("no catalogued dataset holds this subject")


async def subject_exists(services: Services, subject_id: str) -> bool:
    """Whether any catalogued dataset holds the subject."""
    for dataset in services.catalog.datasets.values():
        if await services.source.fetch_record(
            dataset, subject_id, [dataset.subject_key]
        ):
            return True
    return False


def receipt_fields(
    services: Services, change: ConsentChange, event_id: str, granted_at: datetime
) -> dict[str, Any]:
    """What a consent receipt states about a grant."""

    def iso(moment: datetime | None) -> str | None:
        return (
            moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ") if moment else None
        )

    return {
        "receipt_id": event_id,
        "subject_id": change.subject_id,
        "purpose": change.purpose,
        "scope": sorted(change.scope),
        "kind": change.kind,
        "grantor": change.grantor,
        "notice_version": change.notice_version,
        "method": change.method,
        "channel": change.channel,
        "evidence_hash": change.evidence_hash,
        "granted_at": iso(granted_at),
        "expires_at": iso(change.expires_at),
        "declared_frequency": change.declared_frequency,
        "issuer": services.issuer,
    }


async def withdraw_all_marketing(
    services: Services,
    trail: Trail,
    subject_id: str,
    principal: Principal,
    *,
    method: str = "user_request",
    channel: str = "api",
) -> list[str]:
    """Queue withdrawals of every granted marketing purpose; return their names."""
    changes, now = [], services.now()
    for purpose in services.catalog.purposes.values():
        if purpose.marketing and purpose.requires_consent:
            if (
                principal.role is Role.SERVICE
                and purpose.name not in principal.purposes
            ):
                continue
            changes += await changes_for_withdrawal(
                services.consents,
                subject_id,
                purpose,
                method=method,
                channel=channel,
                recorded_by=principal.name,
                now=now,
            )
    record(trail, changes)
    trail.detail["purposes"] = [c.purpose for c in changes]
    return [c.purpose for c in changes]

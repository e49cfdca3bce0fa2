"""What the consent center shows one subject, gathered from the ledger and the trail.

`load_view(services, subject_id)` reads the subject's consent history and the
recent accesses to their data and returns a `CenterView`: plain values, in
Chinese where the subject reads them, ready for `governance.center.page`.
Consent state is derived exactly as the access path derives it
(`current_records`, `is_stale`), so the page never says "已同意" for a consent
that a read would refuse.
"""

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from audit.query import EventFilter, list_events
from governance.catalog import Catalog, Notice, Purpose
from governance.center.labels import (
    KIND_LABELS,
    REASON_LABELS,
    category_labels,
    purpose_title,
)
from governance.consent.check import is_stale
from governance.consent.ledger import (
    NO_CONSENT,
    ConsentAction,
    ConsentRecord,
    as_utc,
)
from governance.consent.models import ConsentEvent
from governance.consent.view import current_records, personalisation_enabled
from governance.services import Services
from governance.types import ConsentState

ACCESS_KINDS = tuple(sorted(KIND_LABELS))
MAX_ACCESSES = 20


@dataclass(frozen=True)
class Card:
    """One consent purpose as the subject sees it."""

    purpose: str
    title: str
    state: str  # granted, stale, withdrawn, expired or none
    summary: str
    notice_version: str | None
    categories: tuple[str, ...]
    agreed_at: datetime | None
    ended_at: datetime | None
    expires_at: datetime | None
    marketing: bool

    @property
    def withdrawable(self) -> bool:
        """Whether a live grant stands that the subject can withdraw."""
        return self.state in ("granted", "stale")


@dataclass(frozen=True)
class Access:
    """One governed read of the subject's data."""

    caller: str
    purpose: str
    action: str
    at: datetime
    outcome: str
    reason: str | None


@dataclass(frozen=True)
class CenterView:
    """Everything the page shows."""

    subject_id: str
    cards: tuple[Card, ...]
    personalisation: bool
    accesses: tuple[Access, ...]


async def load_view(services: Services, subject_id: str) -> CenterView:
    """The consent center of `subject_id`, as it stands now."""
    events = await services.consents.history(subject_id)
    accesses = await recent_accesses(services, services.subject_ref(subject_id))
    return CenterView(
        subject_id=subject_id,
        cards=tuple(build_cards(services.catalog, events, services.now())),
        personalisation=personalisation_enabled(events),
        accesses=tuple(accesses),
    )


def build_cards(
    catalog: Catalog, events: list[ConsentEvent], now: datetime
) -> list[Card]:
    """A card for every purpose whose legal basis is consent, in catalog order."""
    records = current_records(events, now)
    return [
        _card(catalog, p, records.get(p.name, NO_CONSENT), _last_grant(events, p.name))
        for p in catalog.purposes.values()
        if p.requires_consent
    ]


def _last_grant(events: list[ConsentEvent], purpose: str) -> ConsentEvent | None:
    grants = [
        e for e in events if e.purpose == purpose and e.action == ConsentAction.GRANTED
    ]
    return grants[-1] if grants else None


def _state(catalog: Catalog, purpose: Purpose, record: ConsentRecord) -> str:
    if record.state is ConsentState.GRANTED:
        return "stale" if is_stale(catalog, purpose.name, record) else "granted"
    if record.state in (ConsentState.WITHDRAWN, ConsentState.EXPIRED):
        return record.state.value
    return "none"


def _card(
    catalog: Catalog,
    purpose: Purpose,
    record: ConsentRecord,
    grant: ConsentEvent | None,
) -> Card:
    state = _state(catalog, purpose, record)
    notice: Notice | None = catalog.current_notice(purpose.name)
    if grant is not None:
        notice = catalog.notice(purpose.name, grant.notice_version) or notice
    covered = (
        json.loads(grant.scope)
        if grant is not None
        else (notice.categories if notice else purpose.categories)
    )
    return Card(
        purpose=purpose.name,
        title=purpose_title(purpose.description, purpose.name),
        state=state,
        summary=notice.summary if notice else purpose.description,
        notice_version=notice.version if notice else None,
        categories=category_labels(
            covered, {r.name: r.legal_name for r in catalog.recipients.values()}
        ),
        agreed_at=as_utc(grant.recorded_at) if grant else None,
        ended_at=_ended(state, record),
        expires_at=record.expires_at,
        marketing=purpose.marketing,
    )


def _ended(state: str, record: ConsentRecord) -> datetime | None:
    """When a withdrawn or expired consent stopped counting."""
    if state == "expired":
        return record.expires_at or record.since
    return record.since if state == "withdrawn" else None


async def recent_accesses(services: Services, subject_ref: str) -> list[Access]:
    """The newest governed reads of the subject (at most `MAX_ACCESSES`), found
    among reads only: the subject's own page views and consent changes share
    its trail and must not push them out."""
    page, _ = await list_events(
        services.store,
        EventFilter(subject_ref=subject_ref, kinds=ACCESS_KINDS),
        limit=MAX_ACCESSES,
        cursor=None,
    )
    return [_access(services.catalog, e) for e in page]


def _access(catalog: Catalog, event: dict[str, Any]) -> Access:
    purpose = catalog.purposes.get(event["purpose"] or "")
    return Access(
        caller=event["caller"] or "未知访问方",
        purpose=purpose_title(purpose.description, purpose.name)
        if purpose
        else event["purpose"] or "未声明",
        action=KIND_LABELS[event["kind"]],
        at=datetime.fromisoformat(event["ts"]),
        outcome=event["outcome"],
        reason=REASON_LABELS.get(event["reason"] or ""),
    )

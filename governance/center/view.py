"""What the consent center shows one subject, gathered from the ledger and the trail.

`load_view(services, subject_id)` reads the subject's consent history and the
accesses to their data (`governance.center.history`) and returns a
`CenterView`: plain values, in Chinese where the subject reads them, ready for
`governance.center.page`.
Consent state is derived exactly as the access path derives it
(`current_records`, `is_stale`), so the page never says "已同意" for a consent
that a read would refuse.
"""

import json
from dataclasses import dataclass
from datetime import datetime

from governance.catalog import Catalog, Notice, Purpose
from governance.center.flash import message
from governance.center.history import History, load_history
from governance.center.labels import category_labels, purpose_title
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
    personalised: bool  # switched off with personalisation

    @property
    def withdrawable(self) -> bool:
        """Whether a live grant stands that the subject can withdraw."""
        return self.state in ("granted", "stale")


@dataclass(frozen=True)
class CenterView:
    """Everything the page shows."""

    subject_id: str
    cards: tuple[Card, ...]
    personalisation: bool
    history: History
    flash: str | None = None  # the confirmation of the tap that led here

    @property
    def personalised_in_use(self) -> bool:
        """Whether any purpose the switch governs is consented to now."""
        return any(c.personalised and c.state == "granted" for c in self.cards)


async def load_view(
    services: Services,
    subject_id: str,
    *,
    done: str | None = None,
    unchanged: str | None = None,
) -> CenterView:
    """The consent center of `subject_id`, as it stands now; `done` and
    `unchanged` are the redirect's claims of `governance.center.flash`."""
    events = await services.consents.history(subject_id)
    now = services.now()
    enabled = personalisation_enabled(events)
    cards = build_cards(services.catalog, events, now)
    flash = message(
        services.catalog,
        events,
        withdrawable=frozenset(c.purpose for c in cards if c.withdrawable),
        personalisation=enabled,
        done=done,
        unchanged=unchanged,
        now=now,
    )
    return CenterView(
        subject_id=subject_id,
        cards=tuple(cards),
        personalisation=enabled,
        history=await load_history(
            services.store, services.catalog, services.subject_ref(subject_id)
        ),
        flash=flash,
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
        personalised=purpose.personalised,
    )


def _ended(state: str, record: ConsentRecord) -> datetime | None:
    """When a withdrawn or expired consent stopped counting."""
    if state == "expired":
        return record.expires_at or record.since
    return record.since if state == "withdrawn" else None

"""How consent looks from outside: JSON bodies of records and events.

Shared by the consent API and the consent center, so both say the same thing.
"""

import json
from datetime import datetime
from typing import Any

from governance.catalog import Catalog
from governance.consent.check import consent_problem
from governance.consent.ledger import (
    PERSONALISATION,
    ConsentAction,
    ConsentRecord,
    derive,
)
from governance.consent.models import ConsentEvent

_STATE_ACTIONS = {ConsentAction.GRANTED, ConsentAction.WITHDRAWN, ConsentAction.EXPIRED}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def event_body(event: ConsentEvent) -> dict[str, Any]:
    """One ledger event as the API shows it."""
    return {
        "event_id": event.event_id,
        "purpose": event.purpose,
        "action": event.action,
        "notice_version": event.notice_version,
        "method": event.method,
        "channel": event.channel,
        "kind": event.kind,
        "grantor": event.grantor,
        "scope": json.loads(event.scope),
        "evidence_hash": event.evidence_hash,
        "expires_at": _iso(event.expires_at),
        "declared_frequency": event.declared_frequency,
        "recorded_at": event.recorded_at.isoformat(),
        "recorded_by": event.recorded_by,
    }


def record_body(record: ConsentRecord) -> dict[str, Any]:
    """A derived consent record as the API shows it."""
    return {
        "state": record.state.value,
        "since": _iso(record.since),
        "notice_version": record.notice_version,
        "kind": record.kind,
        "grantor": record.grantor,
        "scope": sorted(record.scope),
        "expires_at": _iso(record.expires_at),
    }


def current_records(
    events: list[ConsentEvent], now: datetime
) -> dict[str, ConsentRecord]:
    """Purpose -> current record, from a subject's full history (oldest first)."""
    latest: dict[str, ConsentEvent] = {}
    for event in events:
        if event.action in _STATE_ACTIONS:
            latest[event.purpose] = event
    return {purpose: derive(event, now) for purpose, event in sorted(latest.items())}


def personalisation_enabled(events: list[ConsentEvent]) -> bool:
    """False once the latest personalisation event is an opt-out."""
    opts = [e.action for e in events if e.purpose == PERSONALISATION]
    return not opts or opts[-1] != ConsentAction.OPTED_OUT


def consents_body(
    catalog: Catalog, subject_id: str, events: list[ConsentEvent], now: datetime
) -> dict[str, Any]:
    """Current state per purpose (with staleness), the opt-out, and every event."""
    consents = []
    for purpose_name, record in current_records(events, now).items():
        purpose = catalog.purposes.get(purpose_name)
        problem = consent_problem(catalog, purpose, record) if purpose else None
        consents.append(
            {
                "purpose": purpose_name,
                **record_body(record),
                "usable": problem is None,
                "problem": problem.code if problem else None,
            }
        )
    return {
        "subject_id": subject_id,
        "consents": consents,
        "personalisation": personalisation_enabled(events),
        "events": [event_body(e) for e in events],
    }

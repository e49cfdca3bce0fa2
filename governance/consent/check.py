"""Is the subject's consent good for this access? Missing, withdrawn, expired, stale.

`consent_problem()` names what is wrong with a consent record, as the error the
request would end with (or None); `check_consent()` reads the ledger and raises
it. Queries use `consent_problem()` to leave a subject out and count why.
Consent is read on every request, never cached: a withdrawal holds from the
very next request in every worker and instance.
"""

from datetime import datetime

from governance.catalog import Catalog, Purpose
from governance.consent.ledger import ConsentLedger, ConsentRecord
from governance.errors import (
    AccessDenied,
    ConsentExpired,
    ConsentMissing,
    ConsentStale,
    ConsentWithdrawn,
    PersonalisationOptedOut,
)
from governance.types import ConsentState

NOT_REQUIRED = ConsentRecord(ConsentState.NOT_REQUIRED)


def is_stale(catalog: Catalog, purpose: str, record: ConsentRecord) -> bool:
    """Whether the notice changed in substance since the consent was given (C-05).

    See `Catalog.lasting_notices`: an older notice version stays good while the
    current one covers the same categories with the same kind of consent;
    otherwise the subject must be asked again.
    """
    return (purpose, record.notice_version or "") not in catalog.lasting_notices


def consent_problem(
    catalog: Catalog, purpose: Purpose, record: ConsentRecord
) -> AccessDenied | None:
    """Why `record` cannot support an access for `purpose`, or None if it can."""
    state = record.state
    if state is ConsentState.WITHDRAWN:
        return ConsentWithdrawn("the subject withdrew consent for this purpose")
    if state is ConsentState.EXPIRED:
        return ConsentExpired("the subject's consent for this purpose has expired")
    if state is not ConsentState.GRANTED:
        return ConsentMissing("the subject has not consented to this purpose")
    if is_stale(catalog, purpose.name, record):
        return ConsentStale("the notice changed since consent was given; ask again")
    return None


async def check_consent(
    catalog: Catalog,
    ledger: ConsentLedger,
    purpose: Purpose,
    subject_id: str,
    *,
    now: datetime,
) -> ConsentRecord:
    """The consent that supports this access, or raise why there is none."""
    if not (purpose.requires_consent or purpose.personalised):
        return NOT_REQUIRED
    records, opted = await ledger.lookup(
        [subject_id],
        purpose.name if purpose.requires_consent else None,
        now=now,
        opt_out=purpose.personalised,
    )
    # The consent's own problem first: only members can opt out, so a caller
    # the subject never agreed to must not learn of an opt-out (membership).
    if not purpose.requires_consent:
        record = NOT_REQUIRED
    elif (problem := consent_problem(catalog, purpose, records[subject_id])) is None:
        record = records[subject_id]
    else:
        raise problem
    if opted:
        raise PersonalisationOptedOut("the subject turned personalisation off")
    return record

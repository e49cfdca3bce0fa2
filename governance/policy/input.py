"""Build the policy input: the facts of one access, never a personal value.

The shape is the contract with the `governance.access` package of the bundle
(`policies/governance/access/`); every key is always present, because the policy
treats a missing key as a denial. Nothing here depends on the subject's values
beyond consent and minority, so equal accesses give equal inputs and the
decision can be cached per access shape.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from governance.catalog import Purpose, Recipient, TagFact
from governance.consent.ledger import ConsentRecord
from governance.types import ConsentState, FieldFact, Principal


@dataclass(frozen=True)
class Sharing:
    """Whom the caller provides the data to (`X-Recipient`), if anyone (SC-02).

    `name` is the recipient as the caller named it; `recipient` is the registered
    recipient of that name, or None when none is. Only a registered recipient's
    facts reach the policy: a name the catalog does not know never does.
    """

    name: str | None = None
    recipient: Recipient | None = None

    @property
    def requested(self) -> bool:
        """Whether the caller named a recipient at all."""
        return self.name is not None


@dataclass(frozen=True)
class Bulk:
    """How many records the access reads at once, against the dataset's threshold."""

    size: int = 1
    threshold: int | None = None
    approved: bool = False


NO_SHARING = Sharing()
ONE_RECORD = Bulk()


def build_policy_input(
    *,
    principal: Principal,
    purpose: Purpose,
    dataset: str,
    fields: Iterable[FieldFact],
    explicit_fields: bool,
    tags: Iterable[FieldFact],
    consent: ConsentRecord,
    minor: bool | None,
    sharing: Sharing = NO_SHARING,
    bulk: Bulk = ONE_RECORD,
) -> dict[str, Any]:
    """Return the JSON-ready input document for one access decision."""
    return {
        "caller": {
            "name": principal.name,
            "role": principal.role.value,
            "purposes": sorted(principal.purposes),
        },
        "purpose": {
            "name": purpose.name,
            "legal_basis": purpose.legal_basis,
            "categories": sorted(purpose.categories),
            "sensitive_categories": sorted(purpose.sensitive_categories),
            "excludes_minors": purpose.excludes_minors,
            "marketing": purpose.marketing,
            "pricing": purpose.pricing,
            "third_party": purpose.third_party,
            "recipients": sorted(purpose.recipients),
            "impact_assessment": purpose.impact_assessment,
        },
        "dataset": dataset,
        "fields": [_fact(f) for f in fields],
        "explicit_fields": explicit_fields,
        "tags": [_fact(t) for t in tags],
        "consent": _consent(purpose, consent),
        "subject": {"minor": minor},
        "recipient": _recipient(sharing),
        "bulk": {
            "size": bulk.size,
            "threshold": bulk.threshold,
            "approved": bulk.approved,
        },
    }


def _consent(purpose: Purpose, record: ConsentRecord) -> dict[str, Any]:
    if not purpose.requires_consent:
        return {
            "required": False,
            "state": ConsentState.NOT_REQUIRED.value,
            "kind": None,
            "grantor": None,
            "scope": [],
        }
    return {
        "required": True,
        "state": record.state.value,
        "kind": record.kind,
        "grantor": record.grantor,
        "scope": sorted(record.scope),
    }


def _recipient(sharing: Sharing) -> dict[str, Any]:
    found = sharing.recipient
    return {
        "requested": sharing.requested,
        "registered": found is not None,
        "name": found.name if found else None,
        "country": found.country if found else None,
        "cross_border": found.cross_border if found else None,
        "transfer_mechanism": found.transfer_mechanism if found else None,
    }


def _fact(fact: FieldFact) -> dict[str, Any]:
    lineage = fact.derived_from if isinstance(fact, TagFact) else ()
    return {
        "name": fact.name,
        "category": fact.category,
        "sensitive": fact.sensitive,
        "derived_from": [
            {"category": i.category, "sensitive": i.sensitive} for i in lineage
        ],
    }

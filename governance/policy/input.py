"""Build the policy input: the facts of one access, never a personal value.

The shape is the contract with `policies/governance/access/access.rego`; every
key is always present, because the policy treats a missing key as a denial.
"""

from collections.abc import Iterable
from typing import Any

from governance.catalog import Purpose
from governance.consent.ledger import ConsentRecord
from governance.types import ConsentState, FieldFact, Principal


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
        },
        "dataset": dataset,
        "fields": [_fact(f) for f in fields],
        "explicit_fields": explicit_fields,
        "tags": [_fact(t) for t in tags],
        "consent": _consent(purpose, consent),
        "subject": {"minor": minor},
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


def _fact(fact: FieldFact) -> dict[str, Any]:
    return {"name": fact.name, "category": fact.category, "sensitive": fact.sensitive}

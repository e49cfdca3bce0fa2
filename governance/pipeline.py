"""The governed read path: authenticate -> purpose -> subject -> consent -> decide -> fetch -> mask.

Every step either narrows what may leave or raises a `GovernanceError`; the
HTTP layer wraps each call in `governance.trail.audited`, so every outcome is
audited before it is answered. Reads as a checklist on purpose: this is the
security boundary, so there is no generic step registry. Whom the data goes to
(`X-Recipient`) and the approval of a bulk read (`X-Approval-Ref`) are facts of
the access like its fields: the policy decides on them, the audit event keeps them.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from governance.catalog import Catalog, Dataset, Purpose
from governance.consent.check import check_consent
from governance.consent.ledger import ConsentRecord
from governance.errors import (
    AuthenticationFailed,
    ForbiddenRole,
    InvalidRequest,
    PolicyDenied,
    PurposeNotPermitted,
    UnknownSubject,
)
from governance.masking.apply import mask_record
from governance.policy.input import (
    NO_SHARING,
    ONE_RECORD,
    Bulk,
    Sharing,
    build_policy_input,
)
from governance.services import Services
from governance.subjects import china_date, minor_of
from governance.trail import Trail
from governance.types import (
    Decision,
    FieldFact,
    Obligation,
    Principal,
    Role,
)


def require_role(principal: Principal | None, role: Role) -> Principal:
    """The principal, if it exists and has `role`."""
    if principal is None:
        raise AuthenticationFailed("a valid bearer key is required")
    if principal.role is not role:
        raise ForbiddenRole(f"this endpoint needs the {role.value} role")
    return principal


def resolve_purpose(
    catalog: Catalog,
    principal: Principal,
    name: str | None,
    trail: Trail | None = None,
) -> Purpose:
    """The declared purpose, if the caller may act for it.

    A declared purpose is in the audit event before the caller's permission is
    checked: an attempt to use data for a purpose the caller does not hold is
    what an officer searches for by purpose.
    """
    if not name:
        raise InvalidRequest("the X-Purpose header is required")
    purpose = catalog.purposes.get(name)
    if purpose is None:
        raise InvalidRequest("X-Purpose names no declared purpose")
    if trail is not None:
        trail.purpose = purpose.name
    if name not in principal.purposes:
        raise PurposeNotPermitted("the caller may not act for this purpose")
    return purpose


def resolve_fields(
    dataset: Dataset, names: Sequence[str] | None
) -> tuple[list[str], bool]:
    """The requested fields (all when none are named) and whether they were named."""
    if names is None:
        return list(dataset.fields), False
    unknown = [n for n in names if n not in dataset.fields]
    if unknown or not names:
        raise InvalidRequest("fields must name one or more fields of the dataset")
    return list(dict.fromkeys(names)), True


def resolve_tags(
    catalog: Catalog, dataset: Dataset, names: Sequence[str]
) -> tuple[FieldFact, ...]:
    """The classified tags named (each once), if the dataset has tags and all are declared."""
    unique = list(dict.fromkeys(names))
    if unique and dataset.tags is None:
        raise InvalidRequest("this dataset has no tags to filter on")
    if any(n not in catalog.tags for n in unique):
        raise InvalidRequest("where names a tag that is not declared in the catalog")
    return tuple(catalog.tags[n] for n in unique)


def resolve_sharing(catalog: Catalog, name: str | None) -> Sharing:
    """The recipient the caller names, registered or not: the policy judges both."""
    if name is None:
        return NO_SHARING
    return Sharing(name, catalog.recipients.get(name))


@dataclass(frozen=True)
class Access:
    """The resolved parts of one governed access: who, why, what, for whom, how many."""

    principal: Principal
    purpose: Purpose
    dataset: Dataset
    fields: list[str]
    explicit: bool
    tags: tuple[FieldFact, ...] = ()
    sharing: Sharing = NO_SHARING
    bulk: Bulk = ONE_RECORD

    @property
    def personalised(self) -> bool:
        """Whether the subject's personalisation opt-out applies (A-01).

        Always for a personalised purpose; for a marketing purpose when it picks
        subjects by their tags (consumption, interests, lifecycle): choosing whom
        to push to from a profile is the automated decision PIPL 24 lets the
        subject refuse, whatever the purpose is called.
        """
        return self.purpose.personalised or (self.purpose.marketing and bool(self.tags))

    def policy_input(
        self, consent: ConsentRecord, minor: bool | None
    ) -> dict[str, Any]:
        """The policy input for this access about a subject with these facts."""
        return build_policy_input(
            principal=self.principal,
            purpose=self.purpose,
            dataset=self.dataset.name,
            fields=[self.dataset.fields[f] for f in self.fields],
            explicit_fields=self.explicit,
            tags=self.tags,
            consent=consent,
            minor=minor,
            sharing=self.sharing,
            bulk=self.bulk,
        )

    def note(self, trail: Trail, approval_ref: str | None) -> None:
        """Record in the audit event whom the data goes to and under what approvals.

        A cross-border recipient is flagged (SC-04); the approval reference of a
        bulk read (K-02) and the purpose's impact assessment (L-03) are kept as
        evidence.
        """
        if self.sharing.requested:
            found = self.sharing.recipient
            trail.detail["recipient"] = (
                {
                    "name": found.name,
                    "registered": True,
                    "country": found.country,
                    "cross_border": found.cross_border,
                    "transfer_mechanism": found.transfer_mechanism,
                    "mechanism_reference": found.mechanism_reference,
                }
                if found
                else {"name": self.sharing.name, "registered": False}
            )
        if approval_ref is not None:
            trail.detail["approval_ref"] = approval_ref
        if self.purpose.impact_assessment is not None:
            trail.detail["impact_assessment"] = self.purpose.impact_assessment


async def decide(
    services: Services,
    trail: Trail,
    access: Access,
    consent: ConsentRecord,
    minor: bool | None,
) -> Decision:
    """Ask the policy; raise `PolicyDenied` with its reasons unless it allows."""
    policy_input = access.policy_input(consent, minor)
    decision = await services.decider.decide(policy_input)
    trail.decided(decision, policy_input)
    if not decision.allow:
        raise PolicyDenied("the policy refused this access", reasons=decision.reasons)
    return decision


def released_columns(decision: Decision, fields: Sequence[str]) -> list[str]:
    """The fields whose obligation lets something leave."""
    return [
        f
        for f in fields
        if decision.obligations.get(f, Obligation.WITHHOLD) is not Obligation.WITHHOLD
    ]


def facts_columns(dataset: Dataset) -> list[str]:
    """Columns read before deciding: the key, and every column minority is told
    from (the birth date and the resident ID, whose digits carry one: M-02).

    Both are read for every subject, as either may be the one saying "child"
    (`minor_of`); neither leaves unless the decision releases it.
    """
    ages = [f for f in (dataset.birth_date_field, dataset.id_card_field) if f]
    return [dataset.subject_key, *ages]


async def read_record(
    services: Services,
    trail: Trail,
    *,
    principal: Principal | None,
    purpose_name: str | None,
    dataset_name: str,
    subject_id: str,
    fields: Sequence[str] | None,
    recipient: str | None = None,
    approval_ref: str | None = None,
) -> dict[str, Any]:
    """Read one subject's record for a purpose: consented, decided, masked.

    `recipient` names whom the record is provided to (a third-party purpose);
    `approval_ref` is kept in the audit event.
    """
    # Whom it was about first: a refused attempt is found by subject too.
    trail.subject_ref = services.subject_ref(subject_id)
    caller = require_role(principal, Role.SERVICE)
    trail.caller = caller.name
    purpose = resolve_purpose(services.catalog, caller, purpose_name, trail)
    dataset = services.catalog.dataset(dataset_name)
    trail.dataset = dataset.name
    requested, explicit = resolve_fields(dataset, fields)
    trail.fields = tuple(requested)
    access = Access(
        caller,
        purpose,
        dataset,
        requested,
        explicit,
        sharing=resolve_sharing(services.catalog, recipient),
        bulk=Bulk(1, dataset.bulk_threshold, approval_ref is not None),
    )
    access.note(trail, approval_ref)
    now = services.now()
    # Consent first: a caller the subject has not agreed to learns nothing, not
    # even whether the dataset holds them (only members can consent).
    consent = await check_consent(
        services.catalog, services.consents, purpose, subject_id, now=now
    )
    facts = await services.source.fetch_record(
        dataset, subject_id, facts_columns(dataset)
    )
    if facts is None:
        raise UnknownSubject("the dataset holds no record for this subject")
    minor = minor_of(facts, dataset, china_date(now))
    decision = await decide(services, trail, access, consent, minor)
    columns = released_columns(decision, requested)
    row = (
        await services.source.fetch_record(dataset, subject_id, columns)
        if columns
        else {}
    )
    if row is None:
        raise UnknownSubject("the dataset holds no record for this subject")
    record = mask_record(
        row,
        obligations=decision.obligations,
        fields=dataset.fields,
        operators=services.operators.for_purpose(purpose.name),
    )
    return {
        "dataset": dataset.name,
        "subject_id": subject_id,
        "record": record,
        "obligations": {f: decision.obligations[f].value for f in requested},
        "decision_id": trail.decision_id,
    }

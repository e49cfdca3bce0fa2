"""Governed queries: an audience by tags, only subjects who may be included, masked.

The request shape is decided once (as if for a consenting adult): a field or tag
the purpose may not use, a recipient it may not provide to, or a page larger
than the dataset's bulk threshold without an approval reference refuses the
whole query. Then each scanned subject is checked on its own facts (consent,
including consent naming the recipient, and minority); those who may not be
included are left out and counted by reason, never named.
"""

import json
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from audit.record import SUBJECT_REFS
from governance.catalog import Catalog, Dataset, Purpose
from governance.consent.check import NOT_REQUIRED, consent_problem
from governance.consent.ledger import ConsentRecord
from governance.errors import InvalidRequest
from governance.masking.apply import mask_record
from governance.pipeline import (
    Access,
    decide,
    facts_columns,
    released_columns,
    require_role,
    resolve_fields,
    resolve_purpose,
    resolve_sharing,
    resolve_tags,
)
from governance.policy.input import Bulk
from governance.policy.live import pin
from governance.services import Services
from governance.subjects import china_date, minor_of
from governance.trail import Trail
from governance.types import (
    ConsentState,
    Decision,
    FieldFact,
    Principal,
    Record,
    Role,
)


@dataclass(frozen=True)
class QuerySpec:
    """A query request as the caller sent it."""

    fields: list[str] | None
    tags_any: list[str]
    tags_all: list[str]
    limit: int | None
    cursor: str | None
    recipient: str | None = None
    approval_ref: str | None = None


@dataclass
class _Page:
    """What one page scan has produced so far."""

    after: str | None
    records: list[Record] = field(default_factory=list)
    refs: list[str] = field(default_factory=list)
    excluded: Counter[str] = field(default_factory=Counter)
    exhausted: bool = False
    # A subject's decision depends only on its consent facts and minority (the
    # policy input holds nothing else about it), so subjects alike share one,
    # within this query and its pinned bundle revision.
    decisions: dict[tuple[Any, ...], Decision] = field(default_factory=dict)


async def run_query(
    services: Services,
    trail: Trail,
    *,
    principal: Principal | None,
    purpose_name: str | None,
    dataset_name: str,
    spec: QuerySpec,
) -> dict[str, Any]:
    """Run one page of a governed audience query."""
    caller = require_role(principal, Role.SERVICE)
    trail.caller = caller.name
    purpose = resolve_purpose(services.catalog, caller, purpose_name, trail)
    dataset = services.catalog.dataset(dataset_name)
    trail.dataset = dataset.name
    requested, explicit = resolve_fields(dataset, spec.fields)
    if dataset.subject_key not in requested:
        requested.insert(0, dataset.subject_key)
    trail.fields = tuple(requested)
    tags = _tags(services, dataset, spec)
    trail.detail["tags"] = [t.name for t in tags]
    limit = _limit(services, spec.limit)
    access = Access(
        caller,
        purpose,
        dataset,
        requested,
        explicit,
        tags,
        sharing=resolve_sharing(services.catalog, spec.recipient),
        bulk=Bulk(limit, dataset.bulk_threshold, spec.approval_ref is not None),
    )
    access.note(trail, spec.approval_ref)
    scope = _cursor_scope(access, spec)
    page = _Page(
        services.cursors.open(spec.cursor, scope=scope) if spec.cursor else None
    )
    assumed = _assumed_consent(services.catalog, purpose)
    # One bundle revision decides the shape and every subject, even across a reload.
    services = replace(services, decider=pin(services.decider))
    shape = await decide(services, trail, access, assumed, minor=False)
    # A subject's own decision can only withhold more than the shape's, so the
    # shape's released columns are all a scan ever needs to read.
    released = released_columns(shape, access.fields)
    await _fill(services, access, released, spec, page, limit)
    trail.detail |= {"excluded": dict(page.excluded), SUBJECT_REFS: page.refs}
    cursor = None
    if not page.exhausted and page.after is not None:
        cursor = services.cursors.seal(page.after, scope=scope)
    return {
        "records": page.records,
        "next_cursor": cursor,
        "decision_id": trail.decision_id,
        "excluded": dict(page.excluded),
    }


def _cursor_scope(access: Access, spec: QuerySpec) -> str:
    """What a cursor is bound to: the whole query, as the caller who ran it.

    A page position learnt under one filter must not be replayed under another:
    a cursor of a `孕期` query resumed in an unfiltered one would, with the
    exclusion counts, tell which subjects carry the tag (SC-01).
    """
    return json.dumps(
        [
            access.principal.name,
            access.dataset.name,
            access.purpose.name,
            sorted(set(spec.tags_any)),
            sorted(set(spec.tags_all)),
            access.sharing.name,
            sorted(access.fields),
        ],
        ensure_ascii=False,
    )


def _tags(
    services: Services, dataset: Dataset, spec: QuerySpec
) -> tuple[FieldFact, ...]:
    return resolve_tags(services.catalog, dataset, [*spec.tags_any, *spec.tags_all])


def _limit(services: Services, limit: int | None) -> int:
    limits = services.limits
    value = limits.default_query_limit if limit is None else limit
    if not 1 <= value <= limits.max_query_limit:
        raise InvalidRequest(f"limit must be between 1 and {limits.max_query_limit}")
    return value


def _assumed_consent(catalog: Catalog, purpose: Purpose) -> ConsentRecord:
    """The best consent a subject could have: what the query shape is decided with."""
    notice = catalog.current_notice(purpose.name)
    if not purpose.requires_consent or notice is None:
        return NOT_REQUIRED
    return ConsentRecord(
        ConsentState.GRANTED,
        notice_version=notice.version,
        kind=notice.kind,
        grantor="self",
        scope=notice.categories,
    )


async def _fill(
    services: Services,
    access: Access,
    released: list[str],
    spec: QuerySpec,
    page: _Page,
    limit: int,
) -> None:
    """Scan in subject-key order until the page is full, the scan budget spent, or the end.

    Each scan asks for as many rows as the share admitted so far says the page
    still needs (`_chunk`), so a page takes a scan or two rather than one per
    shortfall. Rows past the one that fills the page are left unexamined: the
    cursor points at the last subject examined, and the next page reads them.
    """
    dataset, budget = access.dataset, limit * services.limits.max_scan_factor
    columns = list(dict.fromkeys([*facts_columns(dataset), *released]))
    now = services.now()
    seen = 0
    while len(page.records) < limit and budget > 0:
        size = min(_chunk(limit - len(page.records), seen, len(page.records)), budget)
        rows = await services.source.scan(
            dataset,
            columns=columns,
            tags_any=spec.tags_any,
            tags_all=spec.tags_all,
            after=page.after,
            limit=size,
        )
        keys = [str(r[dataset.subject_key]) for r in rows]
        facts = await _subject_facts(services, access, keys, now)
        for key, row in zip(keys, rows, strict=True):
            if len(page.records) == limit:
                return
            page.after, budget, seen = key, budget - 1, seen + 1
            excluded = await _admit(services, access, row, facts.get(key), now, page)
            if excluded:
                page.excluded[excluded] += 1
            else:
                page.refs.append(services.subject_ref(key))
        if len(rows) < size:
            page.exhausted = True
            return


def _chunk(missing: int, seen: int, admitted: int) -> int:
    """Rows to scan for `missing` more records, given `admitted` of `seen` so far.

    The first scan asks for `missing`; later ones for the expected need plus a
    quarter, or twice what was seen while nobody was admitted.
    """
    if seen == 0:
        return missing
    if admitted == 0:
        return max(missing, 2 * seen)
    return -(-missing * seen * 5 // (admitted * 4))


async def _subject_facts(
    services: Services, access: Access, keys: list[str], now: datetime
) -> dict[str, ConsentRecord | None]:
    """Each subject's consent record, or None when it opted out of personalisation."""
    purpose = access.purpose
    records, opted = await services.consents.lookup(
        keys,
        purpose.name if purpose.requires_consent else None,
        now=now,
        opt_out=access.personalised,
    )
    if not purpose.requires_consent:
        records = dict.fromkeys(keys, NOT_REQUIRED)
    return {k: None if k in opted else records[k] for k in keys}


async def _admit(
    services: Services,
    access: Access,
    row: Record,
    consent: ConsentRecord | None,
    now: datetime,
    page: _Page,
) -> str | None:
    """Add the subject to the page if its own facts allow; else return why not."""
    if consent is None:
        return "personalisation_opted_out"
    if access.purpose.requires_consent:
        problem = consent_problem(services.catalog, access.purpose, consent)
        if problem is not None:
            return problem.code
    dataset = access.dataset
    minor = minor_of(row, dataset, china_date(now))
    alike = (consent.state, consent.kind, consent.grantor, consent.scope, minor)
    decision = page.decisions.get(alike)
    if decision is None:
        decision = await services.decider.decide(access.policy_input(consent, minor))
        page.decisions[alike] = decision
    if not decision.allow:
        return decision.reasons[0] if decision.reasons else "policy_denied"
    kept = {f: row[f] for f in released_columns(decision, access.fields) if f in row}
    out = mask_record(
        kept,
        obligations=decision.obligations,
        fields=dataset.fields,
        operators=services.operators.for_purpose(access.purpose.name),
    )
    page.records.append({"subject_id": out.pop(dataset.subject_key, None), **out})
    return None

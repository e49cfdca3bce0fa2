"""`govproxy policy explain`: why would this access be allowed or refused?

Builds the policy input the proxy would build, with the pipeline's own steps
(`governance.pipeline`: role, purpose, fields, tags, subject facts, consent
check, `Access.policy_input`), asks the configured bundle with the proxy's own
decider, and prints the decision: every reason in plain words, the refusals the
proxy makes before it asks the policy, each field's obligation, the bundle
revision and the input (facts only, never a personal value).

With `--subject`, consent and minority come from the governance store and the
data source; without it they are assumptions stated in the output (`--consent`,
default absent; `--minor`, default an adult). With `--tags` the access is an
audience query, which always requests the subject key.

Exit status: 0 allowed, 1 refused, 2 unknown caller, purpose, dataset, field,
tag or subject, or unusable configuration.
"""

import argparse
import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from adapters.rego.bundle import Bundle, load_bundle
from adapters.rego.decider import RegorusDecider
from adapters.sources.sql import SqlDataSource
from governance.auth.registry import CallerRegistry
from governance.catalog import Catalog, Dataset, Purpose, load_catalog
from governance.cli.policy_reasons import Explained, bundle_reasons, explain_reason
from governance.consent.check import NOT_REQUIRED, check_consent, consent_problem
from governance.consent.ledger import NO_CONSENT, ConsentLedger, ConsentRecord
from governance.errors import (
    AccessDenied,
    ConfigurationError,
    InvalidRequest,
    PolicyEngineUnavailable,
    UnknownDataset,
)
from governance.pipeline import (
    Access,
    facts_columns,
    require_role,
    resolve_fields,
    resolve_purpose,
    resolve_tags,
)
from governance.settings import Settings, load_settings
from governance.store import open_store
from governance.subjects import china_date, minor_of
from governance.types import ConsentState, Decision, Principal, Role

CONSENT_CHOICES = ("absent", "granted", "guardian", "withdrawn", "expired")
MINOR_CHOICES = {"no": False, "yes": True, "unknown": None}


class ExplainError(ConfigurationError):
    """The access names something the deployment does not know (exit 2)."""


def add_parser(policy_sub: Any) -> None:
    """Register `policy explain` under the `policy` group."""
    explain = policy_sub.add_parser(
        "explain",
        help="show the decision for an access, with every reason and obligation",
        description=__doc__.split("\n\n")[0],
    )
    explain.add_argument("--caller", required=True, help="registered caller name")
    explain.add_argument("--purpose", required=True, help="declared purpose")
    explain.add_argument("--dataset", required=True, help="catalog dataset")
    explain.add_argument(
        "--fields", type=_names, help="a,b: named fields (default: every field)"
    )
    explain.add_argument(
        "--tags", type=_names, default=[], help="t1,t2: an audience query's tags"
    )
    explain.add_argument(
        "--subject", help="subject id: consent and age from the store and data source"
    )
    explain.add_argument(
        "--consent",
        choices=CONSENT_CHOICES,
        default="absent",
        help="without --subject: the consent to assume (granted: under the "
        "current notice; guardian: granted by the guardian)",
    )
    explain.add_argument(
        "--minor",
        choices=sorted(MINOR_CHOICES),
        default="no",
        help="without --subject: whether the subject is under 14",
    )
    explain.add_argument("--bundle", type=Path, help="bundle (else policy_dir)")
    explain.add_argument("--json", action="store_true", help="machine-readable output")
    explain.set_defaults(run=run)


def _names(text: str) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()]


@dataclass
class Explanation:
    """What `explain` found: the facts, the refusals, the decision."""

    revision: str
    summary: dict[str, Any]
    policy_input: dict[str, Any] = field(default_factory=dict)
    refusals: list[Explained] = field(default_factory=list)
    decision: Decision | None = None
    reasons: list[Explained] = field(default_factory=list)
    engine_error: str | None = None

    @property
    def allow(self) -> bool:
        """Whether the proxy would let the access through."""
        return not self.refusals and self.decision is not None and self.decision.allow


def run(args: argparse.Namespace) -> int:
    """Explain one access; exit 0 allowed, 1 refused."""
    config: Path | None = args.config
    settings = load_settings(config)
    catalog = load_catalog(settings.catalog_file)
    bundle = load_bundle(args.bundle or settings.policy_dir)
    explanation = asyncio.run(_explain(settings, catalog, bundle, args))
    if args.json:
        print(orjson.dumps(as_json(explanation), option=orjson.OPT_INDENT_2).decode())
    else:
        print(as_text(explanation))
    return 0 if explanation.allow else 1


async def _explain(
    settings: Settings, catalog: Catalog, bundle: Bundle, args: argparse.Namespace
) -> Explanation:
    store = await open_store(settings.store_url)
    try:
        principal = await _principal(store, args.caller)
        explanation = Explanation(bundle.revision, {})
        purpose = _purpose(catalog, args.purpose)
        for check in (
            lambda: require_role(principal, Role.SERVICE),
            lambda: resolve_purpose(catalog, principal, purpose.name),
        ):
            _refusal(explanation, check)
        dataset = _dataset(catalog, args.dataset)
        access = _access(catalog, principal, purpose, dataset, args)
        if args.subject:
            consent, minor = await _subject(
                catalog, store, access, args.subject, explanation
            )
        else:
            consent, minor = _assumed(catalog, purpose, args, explanation)
        explanation.summary |= _summary(access, consent, minor, bool(args.subject))
        explanation.policy_input = access.policy_input(consent, minor)
        await _decide(bundle, explanation)
        return explanation
    finally:
        await store.dispose()


async def _principal(store: Any, name: str) -> Principal:
    """The registered caller as the proxy would authenticate it."""
    callers = await CallerRegistry(store, known_purposes=frozenset()).list()
    found = next((c for c in callers if c.name == name), None)
    if found is None:
        known = ", ".join(c.name for c in callers) or "none"
        raise ExplainError(f"unknown caller {name!r} (registered: {known})")
    if found.revoked_at is not None:
        raise ExplainError(
            f"caller {name!r} is revoked: the proxy refuses its key (unauthenticated)"
        )
    return Principal(found.name, found.role, frozenset(found.purposes))


def _purpose(catalog: Catalog, name: str) -> Purpose:
    purpose = catalog.purposes.get(name)
    if purpose is None:
        known = ", ".join(sorted(catalog.purposes))
        raise ExplainError(f"unknown purpose {name!r} (declared: {known})")
    return purpose


def _dataset(catalog: Catalog, name: str) -> Dataset:
    try:
        return catalog.dataset(name)
    except UnknownDataset:
        known = ", ".join(sorted(catalog.datasets))
        raise ExplainError(f"unknown dataset {name!r} (declared: {known})") from None


def _refusal(explanation: Explanation, check: Callable[[], object]) -> None:
    """Run one of the pipeline's checks; keep the refusal it raises, if any."""
    try:
        check()
    except AccessDenied as exc:
        explanation.refusals.append(_refused(exc))


def _refused(exc: AccessDenied) -> Explained:
    """A refusal the proxy makes itself, in the words of the built-in table."""
    return explain_reason(exc.code, {})


def _access(
    catalog: Catalog,
    principal: Principal,
    purpose: Purpose,
    dataset: Dataset,
    args: argparse.Namespace,
) -> Access:
    """The access as the read (no tags) or query (tags) endpoint resolves it."""
    fields: list[str] | None = args.fields
    try:
        requested, explicit = resolve_fields(dataset, fields)
    except InvalidRequest as exc:
        names = ", ".join(dataset.fields)
        raise ExplainError(f"{exc} (fields of {dataset.name}: {names})") from None
    try:
        tags = resolve_tags(catalog, dataset, args.tags)
    except InvalidRequest as exc:
        names = ", ".join(catalog.tags) or "none"
        raise ExplainError(f"{exc} (declared tags: {names})") from None
    if tags and dataset.subject_key not in requested:
        requested.insert(0, dataset.subject_key)  # as governance.query.run_query
    return Access(principal, purpose, dataset, requested, explicit, tags)


async def _subject(
    catalog: Catalog,
    store: Any,
    access: Access,
    subject_id: str,
    explanation: Explanation,
) -> tuple[ConsentRecord, bool | None]:
    """The subject's consent and minority, read as the read path reads them."""
    source = SqlDataSource.from_urls(catalog.sources)
    try:
        facts = await source.fetch_record(
            access.dataset, subject_id, facts_columns(access.dataset)
        )
    finally:
        await source.close()
    if facts is None:
        raise ExplainError(f"dataset {access.dataset.name} holds no such subject")
    now = datetime.now(UTC)
    ledger = ConsentLedger(store)
    purpose = access.purpose
    try:
        consent = await check_consent(catalog, ledger, purpose, subject_id, now=now)
    except AccessDenied as exc:
        explanation.refusals.append(_refused(exc))
        consent = (
            await ledger.current(subject_id, purpose.name, now=now)
            if purpose.requires_consent
            else NOT_REQUIRED
        )
    return consent, minor_of(facts, access.dataset, china_date(now))


def _assumed(
    catalog: Catalog,
    purpose: Purpose,
    args: argparse.Namespace,
    explanation: Explanation,
) -> tuple[ConsentRecord, bool | None]:
    """The consent and minority given on the command line, checked as the proxy would."""
    consent = _scenario(catalog, purpose, args.consent)
    if purpose.requires_consent:
        problem = consent_problem(catalog, purpose, consent)
        if problem is not None:
            explanation.refusals.append(_refused(problem))
    return consent, MINOR_CHOICES[args.minor]


def _scenario(catalog: Catalog, purpose: Purpose, choice: str) -> ConsentRecord:
    """The consent record `--consent` stands for, under the purpose's current notice."""
    if not purpose.requires_consent:
        return NOT_REQUIRED
    if choice == "absent":
        return NO_CONSENT
    notice = catalog.current_notice(purpose.name)
    guardian = choice == "guardian"
    return ConsentRecord(
        ConsentState.GRANTED if guardian else ConsentState(choice),
        notice_version=notice.version if notice else None,
        kind="guardian" if guardian else (notice.kind if notice else "general"),
        grantor="guardian" if guardian else "self",
        scope=notice.categories if notice else frozenset(),
    )


def _summary(
    access: Access, consent: ConsentRecord, minor: bool | None, from_store: bool
) -> dict[str, Any]:
    return {
        "caller": access.principal.name,
        "role": access.principal.role.value,
        "purpose": access.purpose.name,
        "dataset": access.dataset.name,
        "fields": list(access.fields),
        "fields_named": access.explicit,
        "tags": [t.name for t in access.tags],
        "subject_facts": "store" if from_store else "assumed",
        "consent": _consent_words(access.purpose, consent),
        "minor": {True: "under 14", False: "14 or older", None: "unknown"}[minor],
    }


def _consent_words(purpose: Purpose, consent: ConsentRecord) -> str:
    if not purpose.requires_consent:
        return f"not required (legal basis: {purpose.legal_basis})"
    if consent.state is ConsentState.NONE:
        return "absent"
    if consent.state is not ConsentState.GRANTED:
        return consent.state.value
    return (
        f"granted ({consent.kind} consent by {consent.grantor}, "
        f"notice {consent.notice_version or '?'})"
    )


async def _decide(bundle: Bundle, explanation: Explanation) -> None:
    """Ask the bundle with the proxy's own decider; an engine fault denies."""
    decider = RegorusDecider(bundle)
    try:
        decision = await decider.decide(explanation.policy_input)
    except PolicyEngineUnavailable as exc:
        explanation.engine_error = str(exc)
        return
    finally:
        decider.close()
    table = bundle_reasons(bundle.policies)
    explanation.decision = decision
    explanation.reasons = [explain_reason(r, table) for r in decision.reasons]


def as_json(explanation: Explanation) -> dict[str, Any]:
    """The explanation as a JSON document."""
    decision = explanation.decision
    policy: dict[str, Any] = (
        {
            "allow": decision.allow,
            "reasons": [_reason_json(r) for r in explanation.reasons],
            "obligations": {k: v.value for k, v in decision.obligations.items()},
        }
        if decision
        else {"error": explanation.engine_error}
    )
    return {
        "allow": explanation.allow,
        "revision": explanation.revision,
        "access": explanation.summary,
        "refused_before_policy": [_reason_json(r) for r in explanation.refusals],
        "policy": policy,
        "input": explanation.policy_input,
    }


def _reason_json(reason: Explained) -> dict[str, Any]:
    return {
        "reason": reason.reason,
        "code": reason.code,
        "about": reason.subject,
        "title": reason.title,
        "explanation": reason.text,
    }


def as_text(explanation: Explanation) -> str:
    """The explanation for a person."""
    s = explanation.summary
    fields = ", ".join(s["fields"]) + (" (named)" if s["fields_named"] else " (all)")
    if s["subject_facts"] == "store":
        consent, minor = "(from the store)", "(from the data source)"
    else:
        consent, minor = "(assumed; see --consent)", "(assumed; see --minor)"
    lines = [
        f"decision: {'ALLOW' if explanation.allow else 'DENY'}",
        f"bundle:   {explanation.revision}",
        "",
        f"caller    {s['caller']} ({s['role']})",
        f"purpose   {s['purpose']}",
        f"dataset   {s['dataset']}",
        f"fields    {fields}",
        f"tags      {', '.join(s['tags']) or '-'}",
        f"consent   {s['consent']} {consent}",
        f"minor     {s['minor']} {minor}",
    ]
    if explanation.refusals:
        first = explanation.refusals[0].code
        lines += ["", f"refused by the proxy before the policy (answer: {first}):"]
        lines += _reason_lines(explanation.refusals)
    decision = explanation.decision
    if decision is None:
        lines += [
            "",
            f"the policy engine could not decide ({explanation.engine_error}):",
            "  the proxy denies with 503 dependency_unavailable",
        ]
    else:
        verdict = "allows" if decision.allow else "denies"
        lines += ["", f"the policy {verdict}" + (":" if explanation.reasons else "")]
        lines += _reason_lines(explanation.reasons)
        lines += ["", "obligations:"]
        width = max((len(f) for f in decision.obligations), default=0)
        lines += [
            f"  {name:<{width}}  {decision.obligations[name].value}"
            for name in s["fields"]
            if name in decision.obligations
        ]
    lines += ["", "policy input:"]
    lines += [
        f"  {key:<16}{orjson.dumps(value).decode()}"
        for key, value in explanation.policy_input.items()
    ]
    return "\n".join(lines)


def _reason_lines(reasons: Sequence[Explained]) -> list[str]:
    lines = []
    for reason in reasons:
        about = f" ({reason.subject})" if reason.subject else ""
        lines.append(f"  {reason.reason}")
        lines.append(f"      {reason.title}{about}: {reason.text}")
    return lines

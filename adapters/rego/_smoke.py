"""Smoke-evaluate the decision rule: does it decide what the proxy will ask it?

For each catalog purpose (and dataset) the proxy's own `build_policy_input`
makes a well-formed input (every field, every tag, a consent granted under the
current notice, an adult); the decision must pass `to_decision`, must not be the
rule's default, and no policy package may fail to evaluate on that input.
"""

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from adapters.rego._load import engine_finding, is_test_file
from adapters.rego._regorus import DataPath, Module
from adapters.rego.decider import DECISION_RULE, to_decision
from governance.catalog import Catalog, Purpose
from governance.consent.check import NOT_REQUIRED
from governance.consent.ledger import ConsentRecord
from governance.errors import PolicyEngineUnavailable
from governance.policy.bundles import Finding
from governance.policy.input import build_policy_input
from governance.types import ConsentState, Obligation, Principal, Role

ENTRYPOINT: DataPath = tuple(DECISION_RULE.split(".")[1:])


def check_entrypoint(
    root: Path, engine: Any, mods: Sequence[Module], catalog: Catalog
) -> list[Finding]:
    """The decision rule exists and decides well-formed inputs well."""
    defining = [
        (m, r) for m in mods for r in m.rules if r.path == ENTRYPOINT and not r.function
    ]
    if not defining:
        message = f"no rule defines {DECISION_RULE}, the rule the proxy asks"
        return [Finding(str(root), None, "missing_entrypoint", message)]
    module, rule = defining[-1]
    where = (str(root / module.file), rule.line)
    packages = [m.package for m in mods if not is_test_file(m.file)]
    for label, policy_input in smoke_inputs(catalog):
        try:
            engine.set_input_json(json.dumps(policy_input))
            result = engine.eval_rule(DECISION_RULE)
            # Rules the decision does not read can still conflict on this input.
            for package in dict.fromkeys(packages):
                engine.eval_query_as_json("data." + ".".join(package))
        except RuntimeError as exc:
            return [engine_finding(root, exc, "eval_error")]
        fault = _decision_fault(result, label)
        if fault:
            return [Finding(*where, *fault)]
    return []


# The reason the shipped rule's `default` gives: a well-formed input must not get it.
DEFAULT_REASON = "no_decision"


def _decision_fault(result: Any, label: str) -> tuple[str, str] | None:
    """(code, message) when `result` is not a decision the proxy can act on."""
    try:
        decision = to_decision(result, "check")
    except PolicyEngineUnavailable as exc:
        return "malformed_decision", (
            f"{exc} for {label}: {_shape(result)}; the proxy needs allow: boolean, "
            "reasons: [string], obligations: {field: keep|mask|pseudonymise|withhold}"
        )
    if decision.reasons == (DEFAULT_REASON,):
        return "default_decision", (
            f"the rule gave its default ({DEFAULT_REASON}) for {label}: "
            "it does not accept the input the proxy builds"
        )
    return None


def _shape(result: Any) -> str:
    """What the rule returned, briefly: never more than the decision's own facts."""
    if not isinstance(result, dict):
        return f"it returned {_brief(result)}"
    obligations = result.get("obligations")
    shown = _brief(obligations)
    if isinstance(obligations, dict):
        valid = {o.value for o in Obligation}
        bad = {k: v for k, v in obligations.items() if v not in valid}
        shown = _brief(bad) if bad else f"{len(obligations)} valid entries"
    parts = {"allow": result.get("allow"), "reasons": result.get("reasons")}
    return ", ".join(f"{k}: {_brief(v)}" for k, v in parts.items()) + (
        f", obligations: {shown}"
    )


def _brief(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def smoke_inputs(catalog: Catalog) -> list[tuple[str, dict[str, Any]]]:
    """One well-formed input per purpose and dataset: every field, every tag."""
    inputs = []
    for purpose in sorted(catalog.purposes.values(), key=lambda p: p.name):
        for dataset in catalog.datasets.values():
            tags = tuple(catalog.tags.values()) if dataset.tags else ()
            inputs.append(
                (
                    f"purpose {purpose.name} on dataset {dataset.name}",
                    build_policy_input(
                        principal=Principal(
                            "policy-check", Role.SERVICE, frozenset({purpose.name})
                        ),
                        purpose=purpose,
                        dataset=dataset.name,
                        fields=dataset.fields.values(),
                        explicit_fields=True,
                        tags=tags,
                        consent=_granted(catalog, purpose),
                        minor=False,
                    ),
                )
            )
    return inputs


def _granted(catalog: Catalog, purpose: Purpose) -> ConsentRecord:
    if not purpose.requires_consent:
        return NOT_REQUIRED
    notice = catalog.current_notice(purpose.name)
    return ConsentRecord(
        ConsentState.GRANTED,
        notice_version=notice.version if notice else None,
        kind=notice.kind if notice else "general",
        grantor="self",
        scope=notice.categories if notice else purpose.categories,
    )

"""The obligation vocabulary of issue #5 (generalise, tokenise, redact_text) end to end.

The bundle names them (`_obligation_kinds` and `obligations/data.json`), the
decision check lets them through, and nothing outside the vocabulary passes.
"""

import asyncio
from pathlib import Path

import pytest

from adapters.rego.bundle import load_bundle
from adapters.rego.decider import RegorusDecider, to_decision
from governance.catalog import load_catalog
from governance.consent.check import NOT_REQUIRED
from governance.errors import PolicyEngineUnavailable
from governance.policy.input import NO_SHARING, ONE_RECORD, build_policy_input
from governance.types import Obligation, Principal, Role

ROOT = Path(__file__).resolve().parents[2]
CATALOG = load_catalog(ROOT / "governance" / "demo" / "catalog.yaml")


@pytest.mark.parametrize("kind", list(Obligation), ids=str)
def test_every_obligation_kind_passes_the_decision_check(kind):
    """Each kind of the vocabulary is read back as itself."""
    result = {"allow": True, "reasons": [], "obligations": {"f": kind.value}}

    assert to_decision(result, "rev").obligations == {"f": kind}


@pytest.mark.parametrize("kind", ["redact", "Generalise", "tokenize", "", 1, None])
def test_kinds_outside_the_vocabulary_are_refused(kind):
    """A misspelt or foreign kind makes the decision malformed: the read is denied."""
    result = {"allow": True, "reasons": [], "obligations": {"f": kind}}

    with pytest.raises(PolicyEngineUnavailable):
        to_decision(result, "rev")


def test_shipped_bundle_obliges_the_new_kinds():
    """Customer service: e-mail tokenised, notes redacted; analytics: birth dates generalised."""
    decider = RegorusDecider(load_bundle(ROOT / "policies"))
    dataset = CATALOG.datasets["customers"]

    def obligations(purpose: str, fields: list[str]) -> dict[str, Obligation]:
        policy_input = build_policy_input(
            principal=Principal("brand-app", Role.SERVICE, frozenset({purpose})),
            purpose=CATALOG.purposes[purpose],
            dataset=dataset.name,
            fields=[dataset.fields[f] for f in fields],
            explicit_fields=True,
            tags=(),
            consent=NOT_REQUIRED,
            minor=False,
            sharing=NO_SHARING,
            bulk=ONE_RECORD,
        )
        return asyncio.run(decider.decide(policy_input)).obligations

    try:
        service = obligations("customer_service", ["email", "service_note"])
        analytics = obligations("analytics", ["birth_date"])
    finally:
        decider.close()

    assert service == {
        "email": Obligation.TOKENISE,
        "service_note": Obligation.REDACT_TEXT,
    }
    assert analytics == {"birth_date": Obligation.GENERALISE}

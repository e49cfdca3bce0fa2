"""Differential test: regorus and the real OPA engine decide the shipped bundle alike.

A seeded generator draws policy inputs over the shape of
`governance/policy/input.py`, well-formed and not: missing keys, wrong types,
duplicate field names, unclassified, sensitive and unknown tags, minors and
unknown ages, every consent state, kind and grantor, scopes that are not lists,
recipients registered or not (named in the consent or not), bulk reads with
and without approval.
Both engines evaluate `data.governance.access.decision` in process for each;
their results (allow, reasons, obligations) must be equal, and an evaluation
error in one must be an evaluation error in the other (both deny with 503).
"""

import copy
import json
import random
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from opa_server import opa_engine, require_opa_engine

from adapters.rego.bundle import load_bundle
from governance.catalog import load_catalog
from governance.consent.ledger import ConsentRecord
from governance.policy.input import NO_SHARING, Bulk, Sharing, build_policy_input
from governance.types import ConsentState, FieldFact, Obligation, Principal, Role

ROOT = Path(__file__).resolve().parents[3]
POLICIES = ROOT / "policies"
CATALOG = load_catalog(ROOT / "governance" / "demo" / "catalog.yaml")
DECISION = "governance.access.decision"
SEED = 4
COUNT = 2000

# What the generator draws from: the demo catalog, and values no catalog declares.
PURPOSES = list(CATALOG.purposes.values())
FIELDS = list(CATALOG.datasets["customers"].fields.values())
TAGS = list(CATALOG.tags.values())
RECIPIENTS = sorted(CATALOG.recipients)
CATEGORIES = sorted({f.category for f in [*FIELDS, *TAGS]})
UNCLASSIFIED_TAG = FieldFact("未分类", "", False)
ODD = [None, 0, 1, "", "true", [], {}, "granted", ["x"]]  # wrong types for any key
MISSING = object()  # as a drawn value: remove the key
PATHS = [
    ("caller",),
    ("caller", "name"),
    ("caller", "role"),
    ("caller", "purposes"),
    ("purpose",),
    ("purpose", "name"),
    ("purpose", "legal_basis"),
    ("purpose", "categories"),
    ("purpose", "sensitive_categories"),
    ("purpose", "excludes_minors"),
    ("dataset",),
    ("fields",),
    ("explicit_fields",),
    ("tags",),
    ("consent",),
    ("consent", "required"),
    ("consent", "state"),
    ("consent", "kind"),
    ("consent", "grantor"),
    ("consent", "scope"),
    ("subject",),
    ("subject", "minor"),
]
ITEM_KEYS = ["name", "category", "sensitive"]
KINDS = ["general", "separate", "guardian", None, "other"]

ERROR = ("evaluation error",)  # either engine's result when evaluation fails


def coherent(rng: random.Random) -> dict[str, Any]:
    """An access as the proxy builds it: a demo purpose, fields and tags, a consent."""
    purpose = rng.choice(PURPOSES)
    usable = purpose.categories | purpose.sensitive_categories
    fields = [f for f in FIELDS if f.category in usable or rng.random() < 0.1]
    tags = [t for t in TAGS if t.category in usable or rng.random() < 0.05]
    notice = CATALOG.current_notice(purpose.name)
    scope = set(notice.categories if notice else usable)
    if rng.random() < 0.2:
        scope.discard(rng.choice(CATEGORIES))
    consent = ConsentRecord(
        state=rng.choice([ConsentState.GRANTED] * 4 + list(ConsentState)),
        kind=rng.choice([notice.kind if notice else "general", *KINDS]),
        grantor=rng.choice(["self", "self", "guardian", None]),
        scope=frozenset(scope),
    )
    others = rng.sample([p.name for p in PURPOSES], rng.randint(0, 3))
    if purpose.third_party or rng.random() < 0.1:  # a recipient, registered or not
        name = rng.choice([*RECIPIENTS, "unregistered-co", None])
        sharing = Sharing(name, CATALOG.recipients.get(name or ""))
        scope |= {f"recipient:{name}"} if rng.random() < 0.6 else set()
    else:
        sharing = NO_SHARING
    bulk = Bulk(
        size=rng.choice([1, 1, 200, 800]),
        threshold=rng.choice([None, 500]),
        approved=rng.random() < 0.5,
    )
    consent = replace(consent, scope=frozenset(scope))
    return build_policy_input(
        principal=Principal(
            "brand-app", Role.SERVICE, frozenset([purpose.name, *others])
        ),
        purpose=purpose,
        dataset="customers",
        fields=rng.sample(fields, rng.randint(1, len(fields))),
        explicit_fields=rng.random() < 0.5,
        tags=rng.sample(tags, rng.randint(0, min(2, len(tags)))),
        consent=consent,
        minor=rng.choice([False, False, False, True, None]),
        sharing=sharing,
        bulk=bulk,
    )


def _odd(rng: random.Random) -> Any:
    """A wrong-typed value (a fresh copy: the input may be bent again), or MISSING."""
    value = rng.choice([*ODD, MISSING])
    return value if value is MISSING else copy.deepcopy(value)


def _set(document: Any, path: tuple[str, ...], value: Any) -> None:
    """Set (or with MISSING remove) `path` in `document`, if its parent is an object."""
    *parents, key = path
    for part in parents:
        document = document.get(part) if isinstance(document, dict) else None
    if not isinstance(document, dict):
        return
    if value is MISSING:
        document.pop(key, None)
    else:
        document[key] = value


def _items(document: dict[str, Any]) -> list[Any]:
    return [
        i
        for key in ("fields", "tags")
        if isinstance(document.get(key), list)
        for i in document[key]
    ]


def mutate(rng: random.Random, document: dict[str, Any]) -> None:
    """Break or bend one fact of `document`, as a buggy caller or catalog might."""
    kind = rng.randrange(8)
    items = _items(document)
    if kind == 0:  # any key: a wrong type, or gone
        _set(document, rng.choice(PATHS), _odd(rng))
    elif kind == 1 and items:  # one field or tag item: a wrong type, or a key gone
        item = rng.choice(items)
        if isinstance(item, dict):
            _set(item, (rng.choice(ITEM_KEYS),), _odd(rng))
    elif kind == 2:  # a duplicate name among the fields or the tags
        found = document.get(rng.choice(["fields", "tags"]))
        if isinstance(found, list) and found:
            twin = rng.choice(found)
            found.append(dict(twin) if isinstance(twin, dict) else twin)
    elif kind == 3:  # a sensitive, a willingness-to-pay or an unclassified tag
        tag = rng.choice([*TAGS, UNCLASSIFIED_TAG])
        if isinstance(document.get("tags"), list):
            document["tags"].append(_fact_of(tag))
    elif kind == 4:  # a field the purpose may not use
        if isinstance(document.get("fields"), list):
            document["fields"].append(_fact_of(rng.choice(FIELDS)))
    elif kind == 5:  # the purpose lists a sensitive category
        _set(document, ("purpose", "sensitive_categories"), rng.sample(CATEGORIES, 2))
    elif kind == 6 and rng.random() < 0.5:  # another role
        _set(document, ("caller", "role"), rng.choice(["officer", "admin", "Service"]))
    elif kind == 6:  # a purpose the caller did not declare
        undeclared = rng.choice(["analytics", "unknown_purpose"])
        _set(document, ("purpose", "name"), undeclared)
    else:  # the consent names another state, kind, grantor or scope
        key = rng.choice(["state", "kind", "grantor", "scope"])
        value = {
            "state": rng.choice(["granted", "withdrawn", "expired", "GRANTED"]),
            "kind": rng.choice(KINDS),
            "grantor": rng.choice(["self", "guardian", "parent"]),
            "scope": rng.sample(CATEGORIES, 3),
        }[key]
        _set(document, ("consent", key), value)


def _fact_of(fact: FieldFact) -> dict[str, Any]:
    return {"name": fact.name, "category": fact.category, "sensitive": fact.sensitive}


def generate(seed: int, count: int) -> list[Any]:
    """`count` policy inputs drawn from `seed`: coherent accesses, most of them bent."""
    rng = random.Random(seed)
    inputs: list[Any] = []
    for _ in range(count):
        if rng.random() < 0.01:
            inputs.append(rng.choice([{}, [], None, "input"]))
            continue
        document = coherent(rng)
        for _ in range(rng.choice([0, 0, 1, 1, 2, 3, 5])):
            mutate(rng, document)
        inputs.append(document)
    return inputs


def regorus_decision(engine: Any, policy_input: Any) -> Any:
    """The embedded engine's result, or ERROR."""
    try:
        engine.set_input_json(json.dumps(policy_input))
        return engine.eval_rule(f"data.{DECISION}")
    except RuntimeError:
        return ERROR


def opa_decision(engine: Any, policy_input: Any) -> Any:
    """The real OPA engine's result, or ERROR (undefined is None, as regorus has it)."""
    from opa_bindings import OpaError, OpaUndefinedError

    try:
        return engine.eval_document(DECISION, policy_input)
    except OpaUndefinedError:
        return None
    except OpaError:
        return ERROR


@pytest.fixture(scope="module")
def engines() -> Any:
    """(regorus, OPA) engines holding the shipped bundle."""
    require_opa_engine()
    regorus_engine = load_bundle(POLICIES).engine()
    opa = opa_engine(POLICIES)
    yield regorus_engine, opa
    opa.close()


@pytest.fixture(scope="module")
def outcomes(engines: Any) -> list[tuple[Any, Any, Any]]:
    """(input, regorus result, OPA result) for every generated input."""
    regorus_engine, opa = engines
    return [
        (i, regorus_decision(regorus_engine, i), opa_decision(opa, i))
        for i in generate(SEED, COUNT)
    ]


def test_regorus_and_opa_agree_on_every_generated_input(outcomes):
    """Allow, reasons and obligations are equal in both engines for each input."""
    disagreements = [(i, r, o) for i, r, o in outcomes if r != o]

    assert len(outcomes) >= 1000
    assert disagreements == [], json.dumps(disagreements[:3], ensure_ascii=False)


def test_generated_inputs_reach_every_outcome_of_the_policy(outcomes):
    """The inputs are not all alike: each deny reason, allows and each obligation occur."""
    decided = [r for _, r, _ in outcomes if isinstance(r, dict)]
    codes = Counter(reason.split(":")[0] for r in decided for reason in r["reasons"])
    obligations = Counter(v for r in decided for v in r["obligations"].values())

    assert sum(r["allow"] for r in decided) >= 20
    assert set(codes) >= {
        "no_decision",
        "role_not_permitted",
        "purpose_not_permitted",
        "consent_withdrawn",
        "consent_missing",
        "consent_malformed",
        "outside_consent_scope",
        "separate_consent_required",
        "field_not_permitted",
        "sensitive_field_not_permitted",
        "tag_not_permitted",
        "sensitive_tag_not_permitted",
        "unclassified",
        "subject_is_minor",
        "guardian_consent_required",
        "subject_age_unknown",
        "price_discrimination_risk",
        "impact_assessment_required",
        "recipient_not_registered",
        "recipient_not_permitted",
        "recipient_consent_required",
        "approval_required",
    }, codes
    assert set(obligations) == {o.value for o in Obligation}


def test_generator_is_seeded():
    """The same seed draws the same inputs, so a failure can be replayed."""
    assert generate(SEED, 50) == generate(SEED, 50)

"""The policy input of an access: every key the rules read, facts only, cacheable.

The bundle treats a missing key as a denial, so each key must always be there;
a recipient the catalog does not know must never reach the policy by name; and
two subjects with the same facts must give the same input (one cached decision).
"""

from importlib import resources
from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from governance.catalog import Catalog, load_catalog
from governance.consent.ledger import ConsentRecord
from governance.pipeline import Access, resolve_sharing
from governance.policy.input import ONE_RECORD, Bulk
from governance.types import ConsentState, Principal, Role

GRANTED = ConsentRecord(
    ConsentState.GRANTED,
    notice_version="2026.01",
    kind="separate",
    grantor="self",
    scope=frozenset({"contact.phone", "recipient:cobrand-bank"}),
)
CALLER = Principal("partner-gateway", Role.SERVICE, frozenset({"partner_sharing"}))


@pytest.fixture(scope="module")
def catalog(tmp_path_factory) -> Catalog:
    """The demo catalog."""
    path = Path(tmp_path_factory.mktemp("catalog")) / "catalog.yaml"
    text = (
        resources.files("governance.demo").joinpath("catalog.yaml").read_text("utf-8")
    )
    path.write_text(text, encoding="utf-8")
    return load_catalog(path)


def access(catalog: Catalog, *, tags=(), recipient=None, bulk=ONE_RECORD) -> Access:
    """An access of the partner gateway to two fields of the customers."""
    return Access(
        CALLER,
        catalog.purposes["partner_sharing"],
        catalog.dataset("customers"),
        ["customer_id", "mobile"],
        True,
        tuple(catalog.tags[t] for t in tags),
        sharing=resolve_sharing(catalog, recipient),
        bulk=bulk,
    )


def test_every_key_the_rules_read_is_present(catalog):
    """Purpose flags, item lineage, recipient and bulk are there even when unused."""
    document = access(catalog).policy_input(GRANTED, minor=False)

    assert document["purpose"] == {
        "name": "partner_sharing",
        "legal_basis": "consent",
        "categories": ["contact.phone", "identity.customer_id", "identity.name"],
        "sensitive_categories": [],
        "excludes_minors": True,
        "marketing": True,
        "pricing": False,
        "third_party": True,
        "recipients": ["cobrand-bank", "hq-analytics-sg"],
        "impact_assessment": "PIA-2026-004",
    }
    assert all(f["derived_from"] == [] for f in document["fields"])
    assert document["recipient"] == {
        "requested": False,
        "registered": False,
        "name": None,
        "country": None,
        "cross_border": None,
        "transfer_mechanism": None,
    }
    assert document["bulk"] == {"size": 1, "threshold": None, "approved": False}


def test_a_derived_tag_carries_its_lineage(catalog):
    """控糖 reaches the policy sensitive, with the sensitive input it derives from."""
    (tag,) = access(catalog, tags=["控糖"]).policy_input(GRANTED, minor=False)["tags"]

    assert tag == {
        "name": "控糖",
        "category": "interest.diet",
        "sensitive": True,
        "derived_from": [{"category": "health.condition", "sensitive": True}],
    }


def test_a_registered_recipient_is_described_by_the_catalog(catalog):
    """Country, cross-border flag and mechanism come from the registry, not the caller."""
    document = access(catalog, recipient="hq-analytics-sg").policy_input(
        GRANTED, minor=False
    )

    assert document["recipient"] == {
        "requested": True,
        "registered": True,
        "name": "hq-analytics-sg",
        "country": "SG",
        "cross_border": True,
        "transfer_mechanism": "standard_contract",
    }


def test_an_unregistered_recipient_never_reaches_the_policy_by_name(catalog):
    """Whatever name a caller sends, the input only says one was named and is unknown."""
    first = access(catalog, recipient="acme-data").policy_input(GRANTED, minor=False)
    second = access(catalog, recipient="other-co").policy_input(GRANTED, minor=False)

    assert first["recipient"]["requested"] is True
    assert first["recipient"]["registered"] is False
    assert first["recipient"]["name"] is None
    assert first == second


def test_a_bulk_read_carries_its_size_threshold_and_approval(catalog):
    """The threshold is the dataset's; the approval is whether a reference was sent."""
    bulk = Bulk(800, catalog.dataset("customers").bulk_threshold, True)

    document = access(catalog, bulk=bulk).policy_input(GRANTED, minor=False)

    assert document["bulk"] == {"size": 800, "threshold": 500, "approved": True}


@given(
    tags=st.lists(st.sampled_from(["高消费", "孕期", "控糖", "母婴"]), unique=True),
    recipient=st.sampled_from([None, "cobrand-bank", "hq-analytics-sg", "x-corp"]),
    size=st.integers(1, 1000),
    minor=st.sampled_from([True, False, None]),
)
def test_input_survives_a_json_round_trip(catalog, tags, recipient, size, minor):
    """The input is plain JSON: what the cache keys on is what the engine reads."""
    document = access(
        catalog, tags=tags, recipient=recipient, bulk=Bulk(size, 500, False)
    ).policy_input(GRANTED, minor=minor)

    assert orjson.loads(orjson.dumps(document)) == document

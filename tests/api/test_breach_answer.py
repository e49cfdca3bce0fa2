"""GET /v1/audit/breach over the demo deployment: whose name it takes, and what it says
beyond fields (the tags subjects were selected by, third parties, purged events)."""

import json
import sqlite3
from contextlib import closing

import pytest
from factories import auth
from trail_rows import at, insert_trail, on_store, query, read

from audit.record import SUBJECT_REFS

PATH = "/v1/audit/breach"
WINDOW = {"since": at(1), "until": at(20)}
SG = {
    "name": "hq-analytics-sg",
    "registered": True,
    "country": "SG",
    "cross_border": True,
    "transfer_mechanism": "standard_contract",
    "mechanism_reference": "SCC-2025-0412",
}


def officer(keys):
    """Headers of the compliance officer."""
    return auth(keys["compliance-officer"])


@pytest.fixture
def trail(demo_dir):
    """Hand-built March 2026 events in the demo store, on a chain of their own."""

    def add(*drafts):
        url = f"sqlite+aiosqlite:///{demo_dir / 'governance.db'}"
        on_store(url, lambda store: insert_trail(store, drafts, chain="e" * 32))

    return add


def breach_events(demo_dir) -> list[tuple]:
    """(outcome, reason, detail) of every audit.breach event."""
    with closing(sqlite3.connect(demo_dir / "governance.db")) as conn:
        return conn.execute(
            "SELECT outcome, reason, detail FROM audit_events"
            " WHERE kind = 'audit.breach' ORDER BY ts"
        ).fetchall()


def test_a_misspelt_caller_is_404_unknown_caller_not_0_subjects(client, keys, demo_dir):
    """campaign_sms is no caller: the officer is told so, and the refusal is audited."""
    response = client.get(
        PATH, params={"caller": "campaign_sms", **WINDOW}, headers=officer(keys)
    )

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "unknown_caller"
    assert "campaign_sms" not in response.json()["detail"]
    assert [(o, r) for o, r, _ in breach_events(demo_dir)] == [
        ("denied", "unknown_caller")
    ]


def test_a_revoked_caller_is_still_investigated(client, keys, trail):
    """Revoking a leaking caller must not hide what it received before."""
    trail(read("s_a", at(2), caller="partner-gateway", purpose="partner_sharing"))
    revoked = client.post(
        "/v1/callers/partner-gateway/revoke", headers=auth(keys["platform-admin"])
    )

    response = client.get(
        PATH, params={"caller": "partner-gateway", **WINDOW}, headers=officer(keys)
    )

    assert revoked.status_code == 200
    assert response.status_code == 200
    assert response.json()["subjects"] == 1


def test_a_registered_caller_that_received_nothing_is_0_subjects(client, keys):
    """Known but idle: 200 with no subject, which now means what it says."""
    response = client.get(
        PATH, params={"caller": "partner-gateway", **WINDOW}, headers=officer(keys)
    )

    assert response.status_code == 200
    assert response.json()["subjects"] == 0


def test_a_pregnancy_filter_is_reported_as_sensitive_health_data_per_subject(
    client, keys, trail
):
    """Only customer_id and nickname left, but each subject is known to be pregnant."""
    detail = {SUBJECT_REFS: ["s_a", "s_b"], "excluded": {}, "tags": ["孕期"]}
    trail(
        query(
            ["s_a", "s_b"],
            at(2),
            caller="brand-app",
            purpose="maternal_care_recommendation",
            fields=("customer_id", "nickname"),
            obligations={"customer_id": "keep", "nickname": "keep"},
            detail=detail,
        )
    )

    body = client.get(
        PATH, params={"caller": "brand-app", **WINDOW}, headers=officer(keys)
    ).json()

    fertility = {"category": "health.fertility", "sensitive": True}
    assert {r["subject_ref"]: r["selected_by"] for r in body["records"]} == {
        "s_a": {"孕期": fertility},
        "s_b": {"孕期": fertility},
    }
    assert body["tags"]["customers"]["孕期"] == fertility | {"subjects": 2}


def test_data_provided_abroad_names_the_recipient(client, keys, trail, demo_dir):
    """A notification must say to whom the data went and that it left the country."""
    trail(
        read(
            "s_a",
            at(2),
            caller="partner-gateway",
            purpose="partner_sharing",
            detail={"recipient": SG},
        )
    )

    body = client.get(
        PATH, params={"caller": "partner-gateway", **WINDOW}, headers=officer(keys)
    ).json()

    assert body["records"][0]["recipients"] == [
        {"name": "hq-analytics-sg", "cross_border": True}
    ]
    assert body["recipients"] == [
        {"name": "hq-analytics-sg", "cross_border": True, "subjects": 1}
    ]


def test_purged_events_in_the_range_are_a_caveat_and_audited(
    client, keys, trail, demo_dir
):
    """Tombstones cannot be attributed: "0 subjects" comes with how many were purged."""
    trail(
        read(
            None,
            at(2),
            caller=None,
            purpose=None,
            dataset=None,
            fields=(),
            obligations={},
            detail={"purged_by": "p" * 32},
        )
    )

    body = client.get(
        PATH, params={"caller": "campaign-sms", **WINDOW}, headers=officer(keys)
    ).json()

    assert (body["subjects"], body["purged_events"]) == (0, 1)
    ((_, _, detail),) = breach_events(demo_dir)
    assert json.loads(detail)["purged_events"] == 1

"""The decision log: one OPA-shaped entry per governed decision, facts only, officers only."""

import json
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from factories import auth, subjects
from fastapi.testclient import TestClient

DECISIONS = "/v1/policy/decisions"
RECORD = "/v1/datasets/customers/records/{}"
QUERY = "/v1/datasets/customers/query"
OPA_KEYS = {
    "decision_id",
    "path",
    "input",
    "result",
    "revision",
    "bundles",
    "labels",
    "timestamp",
}
CONSENT = {
    "purpose": "marketing_push",
    "notice_version": "2026.01",
    "method": "click",
    "evidence": {"screen": "opt-in-v3"},
    "channel": "app",
    "declared_frequency": "4/month",
}


@dataclass(frozen=True)
class Call:
    """One governed call and what the API answered."""

    name: str
    status: int
    body: dict[str, Any]


def governed_calls(client: TestClient, keys: dict[str, str], demo_dir: Path) -> dict:
    """Reads and queries, allowed and refused (by the policy or before it)."""
    adults = subjects(demo_dir, minor=False)
    consented, unconsented = adults[3], adults[4]
    client.post(
        f"/v1/subjects/{consented}/consents",
        json=CONSENT,
        headers=auth(keys["brand-app"]),
    ).raise_for_status()
    sms = auth(keys["campaign-sms"], "marketing_push")
    app = auth(keys["brand-app"], "order_fulfilment")
    requests = {
        "read-allowed": ("GET", RECORD.format(consented), sms, None),
        "read-fields": ("GET", RECORD.format(consented) + "?fields=mobile", sms, None),
        "read-policy-denied": (
            "GET",
            RECORD.format(consented) + "?fields=mobile,bank_card",
            sms,
            None,
        ),
        "read-contract": ("GET", RECORD.format(unconsented), app, None),
        "read-consent-refused": ("GET", RECORD.format(unconsented), sms, None),
        "query-allowed": (
            "POST",
            QUERY,
            sms,
            {"fields": ["mobile"], "where": {"tags_any": ["高消费"]}, "limit": 20},
        ),
        "query-policy-denied": (
            "POST",
            QUERY,
            sms,
            {"fields": ["mobile"], "where": {"tags_any": ["孕期"]}},
        ),
    }
    calls = {}
    for name, (method, url, headers, body) in requests.items():
        response = client.request(method, url, headers=headers, json=body)
        calls[name] = Call(name, response.status_code, response.json())
    return calls


def all_decisions(client: TestClient, key: str, **params: Any) -> list[dict]:
    """Every entry, following cursors."""
    found, cursor = [], None
    while True:
        response = client.get(
            DECISIONS,
            headers=auth(key),
            params={**params, **({"cursor": cursor} if cursor else {})},
        )
        assert response.status_code == 200, response.text
        found += response.json()["decisions"]
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return found


@pytest.fixture
def calls(client, keys, demo_dir) -> dict[str, Call]:
    """The governed calls of `governed_calls`, made on this test's proxy."""
    return governed_calls(client, keys, demo_dir)


@pytest.fixture
def entries(client, keys, calls) -> dict[str, list[dict]]:
    """Decision id -> the officer's decision log entries with that id."""
    by_id: dict[str, list[dict]] = {}
    for found in all_decisions(client, keys["compliance-officer"]):
        by_id.setdefault(found["decision_id"], []).append(found)
    return by_id


DECIDED = [
    "read-allowed",
    "read-fields",
    "read-policy-denied",
    "read-contract",
    "query-allowed",
    "query-policy-denied",
]


class TestEntries:
    @pytest.mark.parametrize("name", DECIDED)
    def test_each_decided_call_has_exactly_one_entry(self, calls, entries, name):
        """Every read and query the policy decided, allowed or refused, has one entry."""
        assert len(entries[calls[name].body["decision_id"]]) == 1

    @pytest.mark.parametrize("name", DECIDED)
    def test_the_entry_result_is_what_the_api_answered(self, calls, entries, name):
        """Allowed calls have allow true; refused ones the reasons the caller was given."""
        call = calls[name]
        (found,) = entries[call.body["decision_id"]]

        assert found["result"]["allow"] is (call.status == 200)
        if call.status == 403:
            assert call.body["code"] == "policy_denied"
            assert found["result"]["reasons"] == call.body["reasons"]

    @pytest.mark.parametrize("name", ["read-allowed", "read-fields", "read-contract"])
    def test_a_read_entry_holds_the_obligations_the_api_applied(
        self, calls, entries, name
    ):
        """Each requested field's obligation in the entry is the one in the answer."""
        call = calls[name]
        (found,) = entries[call.body["decision_id"]]

        assert found["result"]["obligations"] == call.body["obligations"]
        assert [f["name"] for f in found["input"]["fields"]] == list(
            call.body["obligations"]
        )

    def test_a_query_entry_counts_who_was_admitted_and_why_others_were_not(
        self, calls, entries
    ):
        """A query's entry is its shape decision, with its subjects counted by outcome."""
        call = calls["query-allowed"]
        (found,) = entries[call.body["decision_id"]]

        assert found["admissions"] == {
            "admitted": len(call.body["records"]),
            "excluded": call.body["excluded"],
        }
        assert [t["name"] for t in found["input"]["tags"]] == ["高消费"]

    def test_a_call_refused_before_the_policy_has_no_entry(self, calls, entries):
        """A read refused for want of consent was never decided by the policy."""
        call = calls["read-consent-refused"]

        assert call.body["code"].startswith("consent_")
        assert call.body["decision_id"] not in entries

    def test_entries_carry_the_opa_decision_log_keys(self, client, calls, entries):
        """Path, revision (also as `bundles`), labels and timestamp, as OPA writes them."""
        revision = client.get("/healthz").json()["policy"]["revision"]
        (found,) = entries[calls["read-allowed"].body["decision_id"]]

        assert set(found) >= OPA_KEYS
        assert found["path"] == "governance/access/decision"
        assert found["revision"] == revision
        assert found["bundles"] == {"governance": {"revision": revision}}
        assert found["requested_by"] == "campaign-sms"
        assert found["timestamp"].endswith("Z")

    def test_each_audit_event_names_the_shape_of_its_entry(
        self, calls, entries, demo_dir
    ):
        """The audit event of a decided call links to its entry: same id, same shape."""
        with closing(sqlite3.connect(demo_dir / "governance.db")) as conn:
            linked = dict(
                conn.execute(
                    "SELECT decision_id, decision_shape FROM audit_events"
                    " WHERE decision_shape IS NOT NULL"
                ).fetchall()
            )

        for name in DECIDED:
            (found,) = entries[calls[name].body["decision_id"]]
            assert linked[found["decision_id"]] == found["audit"]["decision_shape"]


def test_no_entry_holds_a_personal_value(client, keys, calls, demo_dir):
    """No demo customer's id, name, mobile, ID number, e-mail or card is in any entry."""
    text = json.dumps(
        all_decisions(client, keys["compliance-officer"]), ensure_ascii=False
    )
    with closing(sqlite3.connect(demo_dir / "customers.db")) as conn:
        rows = conn.execute(
            "SELECT customer_id, name, mobile, id_number, email, bank_card FROM customers"
        ).fetchall()

    leaked = {value for row in rows for value in row if value in text}

    assert len(rows) > 100
    assert leaked == set()


def test_one_shape_is_stored_once_however_often_it_decides(client, keys, demo_dir):
    """Ten identical reads name one stored shape."""
    sid = subjects(demo_dir, minor=False)[3]
    client.post(
        f"/v1/subjects/{sid}/consents", json=CONSENT, headers=auth(keys["brand-app"])
    ).raise_for_status()
    for _ in range(10):
        response = client.get(
            RECORD.format(sid) + "?fields=nickname",
            headers=auth(keys["campaign-sms"], "marketing_push"),
        )
        assert response.status_code == 200

    with closing(sqlite3.connect(demo_dir / "governance.db")) as conn:
        named = conn.execute(
            "SELECT COUNT(*), COUNT(DISTINCT decision_shape) FROM audit_events"
            " WHERE kind = 'access.read'"
        ).fetchone()
        stored = conn.execute("SELECT COUNT(*) FROM decision_shapes").fetchone()[0]

    assert named == (10, 1)
    assert stored == 1


class TestDecisionsApi:
    def test_an_entry_whose_result_was_rewritten_says_it_is_not_intact(
        self, client, keys, calls, demo_dir
    ):
        """A denial turned into an allow in the store is served flagged."""
        denied = calls["read-policy-denied"].body["decision_id"]
        with closing(sqlite3.connect(demo_dir / "governance.db")) as conn:
            conn.execute(
                "UPDATE decision_shapes SET result = '{\"allow\":true}' WHERE shape_id"
                " = (SELECT decision_shape FROM audit_events WHERE decision_id = ?)",
                (denied,),
            )
            conn.commit()

        found = all_decisions(client, keys["compliance-officer"])

        assert {e["intact"] for e in found if e["decision_id"] == denied} == {False}
        assert {e["intact"] for e in found if e["decision_id"] != denied} == {True}

    def test_pages_follow_each_other_without_gaps(self, client, keys, calls):
        """Pages of two, newest first, together hold every entry once."""
        officer = keys["compliance-officer"]
        everything = all_decisions(client, officer)
        paged = all_decisions(client, officer, limit=2)

        assert [e["decision_id"] for e in paged] == [
            e["decision_id"] for e in everything
        ]
        assert [e["timestamp"] for e in paged] == sorted(
            (e["timestamp"] for e in paged), reverse=True
        )

    def test_caller_filter_keeps_that_callers_decisions(self, client, keys, calls):
        """`caller=brand-app` lists only the brand app's decisions."""
        found = all_decisions(client, keys["compliance-officer"], caller="brand-app")

        assert [e["decision_id"] for e in found] == [
            calls["read-contract"].body["decision_id"]
        ]

    def test_since_in_the_future_lists_nothing(self, client, keys, calls):
        """A time window after every decision is empty."""
        found = all_decisions(client, keys["compliance-officer"], since="2999-01-01")

        assert found == []

    @pytest.mark.parametrize(
        "params",
        [{"since": "yesterday"}, {"cursor": "not-a-cursor"}, {"limit": 0}],
        ids=["bad-since", "forged-cursor", "limit-zero"],
    )
    def test_bad_parameters_are_invalid_requests(self, client, keys, params):
        """Malformed filters get 422 `invalid_request`, not a 500."""
        response = client.get(
            DECISIONS, headers=auth(keys["compliance-officer"]), params=params
        )

        assert response.status_code == 422
        assert response.json()["code"] == "invalid_request"

    @pytest.mark.parametrize("caller", ["campaign-sms", "platform-admin"])
    def test_only_officers_may_read_the_log(self, client, keys, caller):
        """A service (or admin) caller gets 403 `forbidden_role`."""
        response = client.get(DECISIONS, headers=auth(keys[caller]))

        assert response.status_code == 403
        assert response.json()["code"] == "forbidden_role"

    def test_reading_the_log_is_audited(self, client, keys, demo_dir):
        """Each read of the log is an audit event of the officer."""
        response = client.get(DECISIONS, headers=auth(keys["compliance-officer"]))

        with closing(sqlite3.connect(demo_dir / "governance.db")) as conn:
            row = conn.execute(
                "SELECT kind, caller FROM audit_events WHERE decision_id = ?",
                (response.headers["X-Decision-Id"],),
            ).fetchone()
        assert row == ("decisions.read", "compliance-officer")

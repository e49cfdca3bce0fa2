"""Caller administration over the API: keys issued once, revocation immediate, all audited."""

import sqlite3
from contextlib import closing

import pytest
from factories import auth

from governance.types import Actor

NEW = {"name": "crm-sync", "role": "service", "purposes": ["order_fulfilment"]}


def test_when_admin_adds_caller_then_its_key_works_and_is_stored_only_hashed(
    client, keys, demo_dir
):
    """The key comes back once, authenticates, and is nowhere in the store."""
    created = client.post("/v1/callers", json=NEW, headers=auth(keys["platform-admin"]))
    key = created.json()["key"]

    read = client.get("/v1/datasets/customers/records/C000001",
                      headers=auth(key, "order_fulfilment"))  # fmt: skip
    listed = client.get("/v1/callers", headers=auth(keys["platform-admin"])).json()

    assert created.status_code == 201
    assert read.status_code == 200
    assert all("key" not in c for c in listed["callers"])
    assert key.encode() not in (demo_dir / "governance.db").read_bytes()


def test_the_answer_holding_a_new_key_is_never_cached(client, keys):
    """As a detokenised value or a consent-center link: `Cache-Control: no-store`."""
    created = client.post("/v1/callers", json=NEW, headers=auth(keys["platform-admin"]))

    assert created.status_code == 201
    assert "key" in created.json()
    assert created.headers["cache-control"] == "no-store"


def test_when_admin_revokes_caller_then_its_next_request_is_refused(client, keys):
    """Revocation takes effect on the very next request."""
    admin = auth(keys["platform-admin"])
    key = client.post("/v1/callers", json=NEW, headers=admin).json()["key"]

    revoked = client.post("/v1/callers/crm-sync/revoke", headers=admin)
    after = client.get("/v1/datasets/customers/records/C000001",
                       headers=auth(key, "order_fulfilment"))  # fmt: skip

    assert revoked.status_code == 200
    assert after.status_code == 401


def test_caller_changes_are_audited_with_the_change(client, keys, demo_dir):
    """Adding and revoking leave caller.added and caller.revoked events by the admin."""
    admin = auth(keys["platform-admin"])
    client.post("/v1/callers", json=NEW, headers=admin)
    client.post("/v1/callers/crm-sync/revoke", headers=admin)

    with closing(sqlite3.connect(demo_dir / "governance.db")) as conn:
        kinds = [r[0] for r in conn.execute(
            "SELECT kind FROM audit_events WHERE caller = 'platform-admin' ORDER BY ts"
        )]  # fmt: skip

    assert kinds == ["caller.added", "caller.revoked"]


def test_when_name_taken_then_conflict(client, keys):
    """A second caller of the same name is refused with 409."""
    response = client.post("/v1/callers", json=NEW | {"name": "campaign-sms"},
                           headers=auth(keys["platform-admin"]))  # fmt: skip

    assert response.status_code == 409
    assert response.json()["code"] == "conflict"


@pytest.mark.parametrize("name", [a.value for a in Actor])
def test_when_name_is_one_the_proxy_audits_under_then_refused(
    client, keys, demo_dir, name
):
    """No key may act as `cli`, the consent center or a sweeper in the trail."""
    admin = auth(keys["platform-admin"])
    response = client.post(
        "/v1/callers", json=NEW | {"name": name, "role": "admin", "purposes": []},
        headers=admin,
    )  # fmt: skip
    listed = client.get("/v1/callers", headers=admin).json()["callers"]

    assert response.status_code == 422
    assert response.json()["code"] == "invalid_request"
    assert "reserved" in response.json()["detail"]
    assert name not in {c["name"] for c in listed}


def test_a_caller_that_records_consent_is_registered_and_listed_as_one(client, keys):
    """`records_consent` marks the app that asks subjects; only a service can be it."""
    admin = auth(keys["platform-admin"])
    added = client.post(
        "/v1/callers", json=NEW | {"records_consent": True}, headers=admin
    )
    officer = client.post(
        "/v1/callers",
        json={"name": "desk", "role": "officer", "records_consent": True},
        headers=admin,
    )
    listed = {
        c["name"]: c["records_consent"]
        for c in client.get("/v1/callers", headers=admin).json()["callers"]
    }

    assert (added.status_code, added.json()["records_consent"]) == (201, True)
    assert (officer.status_code, officer.json()["code"]) == (422, "invalid_request")
    assert listed["crm-sync"] is True
    assert listed["campaign-sms"] is False
    assert listed["brand-app"] is True
    assert "desk" not in listed


def test_when_service_manages_callers_then_forbidden_role(client, keys):
    """Only admins manage callers."""
    response = client.post("/v1/callers", json=NEW, headers=auth(keys["brand-app"]))

    assert response.status_code == 403
    assert response.json()["code"] == "forbidden_role"


def test_the_last_active_admin_key_is_not_revoked_over_the_api(client, keys):
    """Revoking the only admin would leave no one to manage callers over the API:
    409 last_admin, and the key still works."""
    admin = auth(keys["platform-admin"])

    refused = client.post("/v1/callers/platform-admin/revoke", headers=admin)
    still = client.get("/v1/callers", headers=admin)

    assert refused.status_code == 409
    assert refused.json()["code"] == "last_admin"
    assert still.status_code == 200


def test_with_a_second_admin_the_first_may_revoke_its_own_key(client, keys):
    """Key rotation: add a new admin, then the old key revokes itself."""
    admin = auth(keys["platform-admin"])
    second = {"name": "ops-admin", "role": "admin", "purposes": []}
    new_key = client.post("/v1/callers", json=second, headers=admin).json()["key"]

    revoked = client.post("/v1/callers/platform-admin/revoke", headers=admin)
    old = client.get("/v1/callers", headers=admin)
    last = client.post("/v1/callers/ops-admin/revoke", headers=auth(new_key))

    assert revoked.status_code == 200
    assert old.status_code == 401
    assert last.json()["code"] == "last_admin"


def test_when_the_store_refuses_every_event_then_503_not_a_conflict(
    client, keys, demo_dir
):
    """A rejection that is no race (here a trigger refusing audit rows) stays the
    store's refusal: 503 `dependency_unavailable`, and no caller is added."""
    with closing(sqlite3.connect(demo_dir / "governance.db")) as conn:
        conn.execute(
            "CREATE TRIGGER full BEFORE INSERT ON audit_events"
            " BEGIN SELECT RAISE(ABORT, 'disk full'); END"
        )
        conn.commit()

    response = client.post(
        "/v1/callers", json=NEW, headers=auth(keys["platform-admin"])
    )

    with closing(sqlite3.connect(demo_dir / "governance.db")) as conn:
        added = conn.execute("SELECT count(*) FROM callers WHERE name = 'crm-sync'")
        assert added.fetchone() == (0,)
    assert response.status_code == 503
    assert response.json()["code"] == "dependency_unavailable"

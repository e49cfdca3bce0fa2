"""The officer's audit API: filtered listing with pages, and verification."""

import sqlite3
from contextlib import closing

from factories import auth, subjects


def officer(keys):
    """Headers of the compliance officer."""
    return auth(keys["compliance-officer"])


def test_when_filtering_by_caller_and_outcome_then_only_matching_events(
    client, keys, demo_dir
):
    """Filters combine: caller and outcome."""
    sid = subjects(demo_dir, minor=False)[0]
    client.get(
        f"/v1/datasets/customers/records/{sid}",
        headers=auth(keys["brand-app"], "analytics"),
    )

    events = client.get(
        "/v1/audit/events",
        params={"caller": "brand-app", "outcome": "denied"},
        headers=officer(keys),
    ).json()["events"]

    assert events
    assert all(e["caller"] == "brand-app" and e["outcome"] == "denied" for e in events)


def test_when_paging_then_every_event_is_seen_once_newest_first(client, keys):
    """Cursor pages walk the trail newest first without repeats or gaps."""
    for _ in range(5):
        client.get(
            "/v1/datasets/customers/records/C000001",
            headers=auth(keys["brand-app"], "order_fulfilment"),
        )
    seen, cursor = [], None
    while True:
        params = {"caller": "brand-app", "limit": 2} | (
            {"cursor": cursor} if cursor else {}
        )
        page = client.get(
            "/v1/audit/events", params=params, headers=officer(keys)
        ).json()
        seen += page["events"]
        cursor = page["next_cursor"]
        if not cursor:
            break

    stamps = [e["ts"] for e in seen]
    assert len(seen) >= 5
    assert stamps == sorted(stamps, reverse=True)
    assert len({e["event_id"] for e in seen}) == len(seen)


def test_when_time_range_given_then_events_fall_inside(client, keys):
    """since/until bound the events by time."""
    response = client.get(
        "/v1/audit/events", params={"since": "2999-01-01"}, headers=officer(keys)
    )

    assert response.status_code == 200
    assert response.json()["events"] == []


def test_when_service_reads_audit_then_forbidden_role(client, keys):
    """Only officers read the trail."""
    response = client.get("/v1/audit/events", headers=auth(keys["campaign-sms"]))

    assert response.status_code == 403
    assert response.json()["code"] == "forbidden_role"


def test_reading_the_trail_is_itself_audited(client, keys):
    """An officer's read leaves an audit.read event."""
    client.get("/v1/audit/events", headers=officer(keys))

    events = client.get(
        "/v1/audit/events",
        params={"caller": "compliance-officer"},
        headers=officer(keys),
    ).json()["events"]

    assert any(e["kind"] == "audit.read" for e in events)


def test_when_trail_untouched_then_verify_ok(client, keys):
    """A fresh trail verifies."""
    body = client.get("/v1/audit/verify", headers=officer(keys)).json()

    assert body["ok"] is True
    assert body["first_bad"] is None
    assert body["events"] > 0


def test_when_an_event_is_altered_then_verify_names_it(client, keys, demo_dir):
    """Changing an outcome in the database is detected and located."""
    with closing(sqlite3.connect(demo_dir / "governance.db")) as conn:
        chain, seq, event_id = conn.execute(
            "SELECT chain_id, seq, event_id FROM audit_events ORDER BY ts LIMIT 1 OFFSET 3"
        ).fetchone()
        conn.execute(
            "UPDATE audit_events SET outcome = 'denied' WHERE event_id = ?", (event_id,)
        )
        conn.commit()

    body = client.get("/v1/audit/verify", headers=officer(keys)).json()

    assert body["ok"] is False
    assert body["first_bad"] == {
        "chain_id": chain,
        "seq": seq,
        "event_id": event_id,
        "problem": "altered",
    }


def test_when_an_event_is_deleted_then_verify_reports_the_gap(client, keys, demo_dir):
    """Removing an event leaves a gap that verification names."""
    with closing(sqlite3.connect(demo_dir / "governance.db")) as conn:
        chain, seq = conn.execute(
            "SELECT chain_id, seq FROM audit_events ORDER BY ts LIMIT 1 OFFSET 5"
        ).fetchone()
        conn.execute(
            "DELETE FROM audit_events WHERE chain_id = ? AND seq = ?", (chain, seq)
        )
        conn.commit()

    bad = client.get("/v1/audit/verify", headers=officer(keys)).json()["first_bad"]

    assert (bad["chain_id"], bad["seq"], bad["problem"]) == (chain, seq, "missing")

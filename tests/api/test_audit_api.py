"""The officer's audit API: listing with filters and pages, export, breach kit, verification."""

import json
import shutil
import sqlite3
import zipfile
from contextlib import closing
from datetime import UTC, datetime, timedelta

import pytest
from factories import auth, subjects
from fastapi.testclient import TestClient

from adapters.keys.local import LocalKeyProvider
from audit.export_verify import check_export
from audit.signing import AuditSigner
from governance.app import create_app
from governance.settings import load_settings


def officer(keys):
    """Headers of the compliance officer."""
    return auth(keys["compliance-officer"])


@pytest.fixture(scope="module")
def shared(demo_template, tmp_path_factory):
    """One proxy and its keys for the tests of refusals, which change no state they read."""
    demo = tmp_path_factory.mktemp("audit-api") / "demo"
    shutil.copytree(demo_template, demo)
    creds = json.loads((demo / "demo-credentials.json").read_text(encoding="utf-8"))
    settings = load_settings(demo / "govproxy.yaml", env="test")
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        yield c, {x["name"]: x["key"] for x in creds}


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


def test_when_service_reads_audit_then_forbidden_role(client, keys, demo_dir):
    """Only officers read the trail; the attempt is itself in the trail."""
    response = client.get(
        "/v1/audit/events?caller=brand-app", headers=auth(keys["campaign-sms"])
    )

    with closing(sqlite3.connect(demo_dir / "governance.db")) as conn:
        refusals = conn.execute(
            "SELECT caller, outcome, reason, decision_id, detail FROM audit_events"
            " WHERE kind = 'caller.role'"
        ).fetchall()
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden_role"
    assert [r[:4] for r in refusals] == [
        ("campaign-sms", "denied", "forbidden_role", response.json()["decision_id"])
    ]
    assert json.loads(refusals[0][4]) == {"route": "GET /v1/audit/events"}


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
    """A fresh trail verifies, checkpoint signatures included."""
    body = client.get("/v1/audit/verify", headers=officer(keys)).json()

    assert body["ok"] is True
    assert body["first_bad"] is None
    assert body["events"] > 0
    assert body["signatures_checked"] is True
    assert (body["checkpoint_fault"], body["purge_fault"]) == (None, None)


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


# --- filters and their refusals ------------------------------------------------------

CONSENT = {
    "purpose": "marketing_push",
    "notice_version": "2026.01",
    "method": "click",
    "evidence": {"screen": "opt-in-v3"},
    "channel": "app",
    "declared_frequency": "4/month",
}
SMS = "campaign-sms"


def sms_traffic(client, keys, demo_dir) -> dict:
    """An allowed and a refused read of one consented adult, and an audience query.

    The adult read is not tagged 高消费, so the audience does not hold it.
    """
    big_spenders = set(subjects(demo_dir, tag="高消费"))
    sid = next(s for s in subjects(demo_dir, minor=False) if s not in big_spenders)
    granted = client.post(
        f"/v1/subjects/{sid}/consents", json=CONSENT, headers=auth(keys["brand-app"])
    )
    assert granted.status_code == 201
    sms = auth(keys[SMS], "marketing_push")
    allowed = client.get(f"/v1/datasets/customers/records/{sid}", headers=sms)
    refused = client.get(
        f"/v1/datasets/customers/records/{sid}?fields=bank_card", headers=sms
    )
    audience = client.post(
        "/v1/datasets/customers/query",
        headers=sms,
        json={"fields": ["mobile"], "where": {"tags_any": ["高消费"]}, "limit": 5},
    )
    assert (allowed.status_code, refused.status_code, audience.status_code) == (
        200,
        403,
        200,
    )
    return {
        "subject": sid,
        "obligations": allowed.json()["obligations"],
        "audience": [r["subject_id"] for r in audience.json()["records"]],
    }


def audit_events(client, keys, **params) -> list[dict]:
    """Every event of the first page of a listing (at most 1000)."""
    response = client.get(
        "/v1/audit/events", params={"limit": 1000, **params}, headers=officer(keys)
    )
    assert response.status_code == 200, response.text
    return response.json()["events"]


def test_dataset_kind_and_reason_filters_select_the_refused_read(
    client, keys, demo_dir
):
    """dataset, kind and reason combine to find the one policy refusal."""
    sms_traffic(client, keys, demo_dir)

    found = audit_events(
        client, keys, dataset="customers", kind="access.read", reason="policy_denied"
    )

    assert [(e["caller"], e["outcome"]) for e in found] == [(SMS, "denied")]


BAD_LISTINGS = {
    # name: (query string, code)
    "unknown-name": ("subjectid=C000001", "unknown_filter"),
    "repeated": ("caller=brand-app&caller=campaign-sms", "unknown_filter"),
    "malformed-caller": ("caller=Brand%20App", "invalid_filter"),
    "malformed-outcome": ("outcome=maybe", "invalid_filter"),
    "malformed-since": ("since=yesterday", "invalid_filter"),
    "limit-zero": ("limit=0", "invalid_filter"),
    "reversed-range": ("since=2026-03-02&until=2026-03-01", "invalid_time_range"),
    "forged-cursor": ("cursor=AAAA.0000", "invalid_cursor"),
}


@pytest.mark.parametrize(
    ("query", "code"), list(BAD_LISTINGS.values()), ids=list(BAD_LISTINGS)
)
def test_when_a_listing_is_malformed_then_422_with_its_code(shared, query, code):
    """Each kind of bad input has its own stable code, as problem+json."""
    client, keys = shared
    response = client.get(f"/v1/audit/events?{query}", headers=officer(keys))

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code
    assert "C000001" not in response.text


def test_a_cursor_of_other_filters_is_refused_and_the_refusal_audited(client, keys):
    """A brand-app cursor used for campaign-sms is refused, and that read is on the trail."""
    for _ in range(3):
        client.get(
            "/v1/datasets/customers/records/C000001",
            headers=auth(keys["brand-app"], "order_fulfilment"),
        )
    cursor = client.get(
        "/v1/audit/events",
        params={"caller": "brand-app", "limit": 1},
        headers=officer(keys),
    ).json()["next_cursor"]

    refused = client.get(
        "/v1/audit/events",
        params={"caller": SMS, "cursor": cursor},
        headers=officer(keys),
    )

    assert refused.json()["code"] == "invalid_cursor"
    reads = audit_events(client, keys, kind="audit.read", outcome="denied")
    assert [e["reason"] for e in reads] == ["invalid_cursor"]


# --- export -------------------------------------------------------------------------

RANGE = {"since": "2020-01-01", "until": "2020-12-31"}


def public_pems(demo_dir) -> list[str]:
    """The audit signing public key of the demo's key file."""
    return [
        AuditSigner.from_keys(LocalKeyProvider(demo_dir / "keys.json")).public_pem()
    ]


def whole_year() -> dict[str, str]:
    """A range of the last 365 days and tomorrow, which holds every event of a test."""
    now = datetime.now(UTC)
    return {
        "since": (now - timedelta(days=364)).isoformat(),
        "until": (now + timedelta(days=1)).isoformat(),
    }


def test_a_json_lines_export_verifies_offline_and_is_audited_first(
    client, keys, demo_dir, tmp_path
):
    """The caller's events, then a signed manifest naming the audit.export event."""
    sms_traffic(client, keys, demo_dir)
    listed = audit_events(client, keys, caller=SMS)

    response = client.get(
        "/v1/audit/export",
        params={"caller": SMS, **whole_year()},
        headers=officer(keys),
    )
    (tmp_path / "export.jsonl").write_bytes(response.content)

    check = check_export(tmp_path / "export.jsonl", public_pems(demo_dir))
    assert response.headers["content-type"] == "application/x-ndjson"
    assert check.ok, check.problems
    assert check.manifest["count"] == len(listed)
    assert check.manifest["filters"] == {"caller": SMS}
    assert check.manifest["decision_id"] == response.headers["X-Decision-Id"]
    recorded = audit_events(client, keys, kind="audit.export")
    assert [e["decision_id"] for e in recorded] == [check.manifest["decision_id"]]


def test_a_csv_export_is_a_zip_with_a_bom_csv_that_verifies(
    client, keys, demo_dir, tmp_path
):
    """format=csv: a ZIP of events.csv (UTF-8 with BOM) and manifest.json."""
    sms_traffic(client, keys, demo_dir)

    response = client.get(
        "/v1/audit/export",
        params={"format": "csv", "kind": "access.query", **whole_year()},
        headers=officer(keys),
    )
    (tmp_path / "export.zip").write_bytes(response.content)

    check = check_export(tmp_path / "export.zip", public_pems(demo_dir))
    assert response.headers["content-type"] == "application/zip"
    assert check.ok, check.problems
    assert check.manifest["count"] == 1
    with zipfile.ZipFile(tmp_path / "export.zip") as archive:
        assert archive.read("events.csv").startswith("\ufeff".encode())


BAD_EXPORTS = {
    "no-range": ({"caller": SMS}, "invalid_time_range"),
    "too-wide": ({"since": "2020-01-01", "until": "2021-01-03"}, "time_range_too_wide"),
    "format": ({"format": "xml", **RANGE}, "invalid_filter"),
    "listing-only-parameter": ({"limit": "10", **RANGE}, "unknown_filter"),
}


@pytest.mark.parametrize(
    ("params", "code"), list(BAD_EXPORTS.values()), ids=list(BAD_EXPORTS)
)
def test_when_an_export_is_malformed_then_422_and_nothing_streams(shared, params, code):
    """A refused export answers problem+json, not a partial file."""
    client, keys = shared
    response = client.get("/v1/audit/export", params=params, headers=officer(keys))

    assert response.status_code == 422
    assert response.json()["code"] == code


@pytest.mark.parametrize("path", ["/v1/audit/export", "/v1/audit/breach"])
def test_when_a_service_asks_for_review_tools_then_forbidden_role(shared, path):
    """Exports and breach answers are for officers only."""
    client, keys = shared
    response = client.get(
        path, params={"caller": SMS, **RANGE}, headers=auth(keys[SMS])
    )

    assert response.status_code == 403
    assert response.json()["code"] == "forbidden_role"


# --- breach --------------------------------------------------------------------------


def test_breach_names_the_subjects_and_fields_the_caller_received(
    client, keys, demo_dir
):
    """Resolved ids of the read and the audience; masked fields reported as masked."""
    traffic = sms_traffic(client, keys, demo_dir)

    response = client.get(
        "/v1/audit/breach",
        params={"caller": SMS, "resolve": "true", **whole_year()},
        headers=officer(keys),
    )

    body = response.json()
    records = {r["subject_id"]: r for r in body["records"]}
    read_fields = {f: [o] for f, o in traffic["obligations"].items() if o != "withhold"}
    assert response.headers["Cache-Control"] == "no-store"
    assert set(records) == {traffic["subject"], *traffic["audience"]}
    assert records[traffic["subject"]]["fields"] == read_fields
    assert read_fields["name"] == ["mask"]
    assert "bank_card" not in body["fields"]["customers"]
    assert body["events"] == {"access.query": 1, "access.read": 1}
    assert body["resolved"]["not_found"] == 0


def test_a_breach_query_is_audited_without_subject_ids(client, keys, demo_dir):
    """The audit.breach event records the question and counts, never an id."""
    traffic = sms_traffic(client, keys, demo_dir)
    client.get(
        "/v1/audit/breach",
        params={"caller": SMS, "resolve": "true", **whole_year()},
        headers=officer(keys),
    )

    (event,) = audit_events(client, keys, kind="audit.breach")

    assert event["detail"]["filters"]["caller"] == SMS
    assert event["detail"]["subjects"] == 1 + len(traffic["audience"])
    assert traffic["subject"] not in json.dumps(event)


@pytest.mark.parametrize(
    ("params", "code"),
    [
        (RANGE, "invalid_filter"),
        ({"caller": SMS, "subject_id": "C000001", **RANGE}, "unknown_filter"),
        ({"caller": SMS, "resolve": "yes", **RANGE}, "invalid_filter"),
        ({"caller": SMS, "since": "2020-01-01"}, "invalid_time_range"),
    ],
    ids=["no-caller", "subject-filter", "resolve-not-boolean", "open-range"],
)
def test_when_a_breach_query_is_malformed_then_422(shared, params, code):
    """The breach kit needs a caller and a closed range, and takes nothing else."""
    client, keys = shared
    response = client.get("/v1/audit/breach", params=params, headers=officer(keys))

    assert response.status_code == 422
    assert response.json()["code"] == code

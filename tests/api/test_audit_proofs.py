"""Checkpoints, the public key and Merkle proofs over the API, checked as an auditor would.

The tests share one running proxy (they only add events and checkpoints), so
each starts by sealing what the others left.
"""

import json
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from factories import auth
from fastapi.testclient import TestClient

from audit.proof_check import check_proof
from governance.app import create_app
from governance.settings import load_settings


@pytest.fixture(scope="module")
def proxy(
    demo_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TestClient, Path]]:
    """One proxy over a copy of the demo, for the whole module: (client, its directory)."""
    demo_dir = tmp_path_factory.mktemp("proofs-api") / "demo"
    shutil.copytree(demo_template, demo_dir)
    settings = load_settings(demo_dir / "govproxy.yaml", env="test")
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client, demo_dir


@pytest.fixture
def client(proxy: tuple[TestClient, Path]) -> TestClient:
    """The shared proxy's client."""
    return proxy[0]


@pytest.fixture
def demo_dir(proxy: tuple[TestClient, Path]) -> Path:
    """The shared proxy's demo directory."""
    return proxy[1]


@pytest.fixture
def keys(demo_dir: Path) -> dict[str, str]:
    """Caller name -> bearer key of the demo callers."""
    creds = json.loads((demo_dir / "demo-credentials.json").read_text(encoding="utf-8"))
    return {c["name"]: c["key"] for c in creds}


def officer(keys):
    """Headers of the compliance officer."""
    return auth(keys["compliance-officer"])


def seal(client) -> None:
    """Seal everything committed so far, in the running app."""
    client.portal.call(client.app.state.checkpoints.seal_now)


def public_keys(client, keys) -> list[str]:
    """Every public key the API hands out for checking signatures."""
    body = client.get("/v1/audit/public-key", headers=officer(keys)).json()
    return [k["public_key"] for k in body["keys"]]


def newest_event(demo_dir) -> str:
    """The id of the last event written to the demo store."""
    with closing(sqlite3.connect(demo_dir / "governance.db")) as conn:
        ((event_id,),) = conn.execute(
            "SELECT event_id FROM audit_events ORDER BY ts DESC LIMIT 1"
        ).fetchall()
    return str(event_id)


def kinds_read_by_officer(client, keys) -> list[str]:
    """Kinds of the officer's own audited reads, newest first."""
    events = client.get(
        "/v1/audit/events",
        params={"caller": "compliance-officer"},
        headers=officer(keys),
    ).json()["events"]
    return [e["kind"] for e in events]


def test_the_public_key_checks_the_listed_checkpoints(client, keys):
    """Every checkpoint the API lists verifies with the public key it hands out."""
    seal(client)

    body = client.get("/v1/audit/checkpoints", headers=officer(keys)).json()

    assert body["checkpoints"]
    assert all(
        check_proof(c, public_keys(client, keys)).ok for c in body["checkpoints"]
    )


def test_checkpoints_come_newest_first_in_pages(client, keys):
    """`limit` and `next_before` walk the checkpoints from the newest back."""
    for _ in range(3):
        client.get("/v1/audit/events", headers=officer(keys))
        seal(client)
    numbers, before = [], None
    while True:
        params = {"limit": 1} | ({"before": before} if before else {})
        page = client.get(
            "/v1/audit/checkpoints", params=params, headers=officer(keys)
        ).json()
        numbers += [c["checkpoint"]["number"] for c in page["checkpoints"]]
        before = page["next_before"]
        if before is None:
            break

    assert numbers == sorted(numbers, reverse=True)
    assert numbers[-1] == 1
    assert len(numbers) >= 3


def test_an_inclusion_proof_checks_offline_with_the_public_key(client, keys, demo_dir):
    """An event's proof recomputes to a signed root, given only the public key."""
    event_id = newest_event(demo_dir)
    seal(client)

    response = client.get(
        "/v1/audit/proofs/inclusion",
        params={"event_id": event_id},
        headers=officer(keys),
    )

    check = check_proof(response.json(), public_keys(client, keys))
    assert response.status_code == 200
    assert check.ok, check
    assert response.json()["event"]["event_id"] == event_id


def test_a_consistency_proof_links_two_checkpoints(client, keys):
    """The first checkpoint is proven a prefix of a later one."""
    seal(client)
    client.get("/v1/audit/events", headers=officer(keys))
    seal(client)
    sizes = [
        c["checkpoint"]["tree_size"]
        for c in client.get("/v1/audit/checkpoints", headers=officer(keys)).json()[
            "checkpoints"
        ]
    ]

    response = client.get(
        "/v1/audit/proofs/consistency",
        params={"first": min(sizes), "second": max(sizes)},
        headers=officer(keys),
    )

    assert min(sizes) < max(sizes)
    assert check_proof(response.json(), public_keys(client, keys)).ok


def test_reading_checkpoints_keys_and_proofs_is_audited(client, keys, demo_dir):
    """Each of the four reads leaves its own audit event for the officer."""
    event_id = newest_event(demo_dir)
    seal(client)
    for path, params in (
        ("/v1/audit/checkpoints", {}),
        ("/v1/audit/public-key", {}),
        ("/v1/audit/proofs/inclusion", {"event_id": event_id}),
        ("/v1/audit/proofs/consistency", {"first": 1}),
    ):
        client.get(path, params=params, headers=officer(keys))

    kinds = kinds_read_by_officer(client, keys)

    assert {"audit.checkpoints", "audit.public_key", "audit.proof"} <= set(kinds)


@pytest.mark.parametrize(
    ("path", "params", "status", "code"),
    [
        (
            "/v1/audit/proofs/inclusion",
            {"event_id": "no-such-event"},
            404,
            "unknown_event",
        ),
        ("/v1/audit/proofs/inclusion", {}, 422, "invalid_request"),
        ("/v1/audit/proofs/consistency", {"first": 999999}, 404, "unknown_checkpoint"),
        (
            "/v1/audit/proofs/consistency",
            {"first": 3, "second": 2},
            422,
            "invalid_request",
        ),
        ("/v1/audit/proofs/consistency", {"first": 0}, 422, "invalid_request"),
        ("/v1/audit/proofs/consistency", {"first": "x"}, 422, "invalid_request"),
        ("/v1/audit/checkpoints", {"limit": 0}, 422, "invalid_request"),
    ],
    ids=[
        "unknown-event",
        "no-event-id",
        "unknown-size",
        "sizes-reversed",
        "size-zero",
        "size-not-a-number",
        "limit-zero",
    ],
)
def test_bad_requests_get_a_problem_with_a_stable_code(
    client, keys, path, params, status, code
):
    """Bad input is an RFC 9457 problem with its own code, never a 500."""
    seal(client)

    response = client.get(path, params=params, headers=officer(keys))

    assert (response.status_code, response.json()["code"]) == (status, code)
    assert response.headers["content-type"] == "application/problem+json"


def test_an_event_not_sealed_yet_has_no_proof_yet(client, keys, demo_dir):
    """An event newer than the latest checkpoint is a 409 `event_not_sealed`."""
    seal(client)
    client.get("/v1/audit/events", headers=officer(keys))

    response = client.get(
        "/v1/audit/proofs/inclusion",
        params={"event_id": newest_event(demo_dir)},
        headers=officer(keys),
    )

    assert (response.status_code, response.json()["code"]) == (409, "event_not_sealed")


@pytest.mark.parametrize(
    "path",
    ["/v1/audit/checkpoints", "/v1/audit/public-key", "/v1/audit/proofs/inclusion"],
)
def test_only_officers_read_checkpoints_and_proofs(client, keys, path):
    """A service caller is refused with `forbidden_role`, and no key with 401."""
    as_service = client.get(path, headers=auth(keys["campaign-sms"]))
    anonymous = client.get(path)

    assert (as_service.status_code, as_service.json()["code"]) == (
        403,
        "forbidden_role",
    )
    assert anonymous.status_code == 401


def test_healthz_reports_the_latest_checkpoint_and_its_age(client):
    """`/healthz` shows the latest checkpoint's number, size and age, and no error."""
    seal(client)

    status = client.get("/healthz").json()["audit_checkpoint"]

    assert status["latest"] >= 1
    assert status["tree_size"] > 0
    assert 0 <= status["age_seconds"] < 60
    assert status["last_error"] is None


def test_an_event_whose_stored_hash_is_no_digest_gets_a_problem_not_a_500(
    client, keys, demo_dir
):
    """A row altered in the store is named as an inconsistent tree (409), as a
    corrupt tree node is; the proof used to fail with a 500 on `bytes.fromhex`."""
    event_id = newest_event(demo_dir)
    seal(client)
    with closing(sqlite3.connect(demo_dir / "governance.db")) as conn, conn:
        (stored,) = conn.execute(
            "SELECT hash FROM audit_events WHERE event_id = ?", (event_id,)
        ).fetchone()
        conn.execute(
            "UPDATE audit_events SET hash = 'zz' WHERE event_id = ?", (event_id,)
        )
    try:
        response = client.get(
            "/v1/audit/proofs/inclusion",
            params={"event_id": event_id},
            headers=officer(keys),
        )
    finally:
        with closing(sqlite3.connect(demo_dir / "governance.db")) as conn, conn:
            conn.execute(
                "UPDATE audit_events SET hash = ? WHERE event_id = ?",
                (stored, event_id),
            )

    assert response.status_code == 409
    assert response.json()["code"] == "tree_inconsistent"
    assert "Traceback" not in response.text

"""A governance store that cannot be used: 503 problem+json, then recovery without a restart.

Each scenario runs one proxy over a copy of the demo deployment whose store is
SQLite or PostgreSQL, and breaks the store from outside while requests arrive:
another session holds the audit table's write lock past the store's timeout
(SQLite: another connection's `BEGIN EXCLUSIVE`; PostgreSQL: `LOCK TABLE ... IN
ACCESS EXCLUSIVE MODE`, bounded by the store's `lock_timeout`), then the caller
table cannot be read during the API-key lookup. Every refusal must be a clean
503 with its stable code, nothing of a refused request may be stored, and the
next request after the fault must be answered, the trail still verifying.
"""

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from accounting import stored
from breakers import (
    AUDIT_UNWRITABLE,
    CALLERS_UNREADABLE,
    pg_table_locked,
    terminate_backends,
)
from factories import auth, subjects
from fastapi.testclient import TestClient
from served import demo_copy, keys_of

from governance.app import create_app
from governance.settings import load_settings

READ = "/v1/datasets/customers/records/{subject}"
PROBLEM_JSON = "application/problem+json"
# SQLite: how long a write waits for another process's lock before failing.
SQLITE_BUSY_S = 0.2


# --- deployments -------------------------------------------------------------------------


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def deployment(
    request: pytest.FixtureRequest,
    demo_template: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, Path, str]]:
    """(store kind, a copy of the demo deployment, the URL of its store)."""
    root = tmp_path_factory.mktemp("store-faults")
    with demo_copy(
        demo_template, root, request.param, sqlite_query=f"?timeout={SQLITE_BUSY_S}"
    ) as (folder, url):
        yield request.param, folder, url


@contextmanager
def proxy(folder: Path, store_url: str) -> Iterator[TestClient]:
    """A running proxy over the deployment in `folder` with its store at `store_url`."""
    settings = load_settings(folder / "govproxy.yaml", env="test", store_url=store_url)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def read(client: TestClient, key: str, subject: str) -> httpx.Response:
    """A governed read that needs no consent (contract), answered 200 when all is well."""
    return client.get(
        READ.format(subject=subject), headers=auth(key, "order_fulfilment")
    )


@pytest.fixture(scope="module")
def outage(deployment: tuple[str, Path, str]) -> dict[str, Any]:
    """Reads before, during and after each fault, and what the store holds afterwards."""
    kind, folder, url = deployment
    key, subject = keys_of(folder)["brand-app"], subjects(folder, minor=False)[0]
    with proxy(folder, url) as client:
        before = read(client, key, subject)
        with AUDIT_UNWRITABLE[kind](url):
            unaudited = read(client, key, subject)
        after_audit = read(client, key, subject)
        with CALLERS_UNREADABLE[kind](url):
            unauthenticated = read(client, key, subject)
        after_auth = read(client, key, subject)
    events, report = asyncio.run(stored(url))
    return {
        "before": before,
        "unaudited": unaudited,
        "after_audit": after_audit,
        "unauthenticated": unauthenticated,
        "after_auth": after_auth,
        "decisions": [e.decision_id for e in events],
        "report": report,
    }


def assert_problem(response: httpx.Response, code: str) -> None:
    """A clean 503 problem+json with this code: no stack trace, no record."""
    assert response.status_code == 503, response.text[:300]
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["code"] == code
    assert "record" not in response.json()
    assert "Traceback" not in response.text
    assert ".py" not in response.text


# --- the audit store cannot be written ---------------------------------------------------


class TestAuditStoreUnwritable:
    """A read whose audit event cannot be committed is refused, and leaves no trace."""

    def test_when_the_audit_table_is_locked_then_a_read_is_503(self, outage):
        """The read answers 503 dependency_unavailable, naming its decision, with no data."""
        assert outage["before"].status_code == 200
        assert_problem(outage["unaudited"], "dependency_unavailable")
        assert outage["unaudited"].headers["X-Decision-Id"]

    def test_when_the_lock_is_released_then_the_next_read_is_served(self, outage):
        """The same process answers the next read: no restart is needed."""
        assert outage["after_audit"].status_code == 200
        assert outage["after_audit"].json()["record"]

    def test_the_refused_read_left_no_event_and_the_trail_verifies(self, outage):
        """After recovery the chains verify and hold an event for each answered read only."""
        answered = [
            outage[k].headers["X-Decision-Id"]
            for k in ("before", "after_audit", "after_auth")
        ]
        refused = outage["unaudited"].headers["X-Decision-Id"]

        assert outage["report"].ok, outage["report"]
        assert refused not in outage["decisions"]
        assert [outage["decisions"].count(d) for d in answered] == [1, 1, 1]


# --- the caller registry cannot be read ---------------------------------------------------


class TestCallerRegistryUnreadable:
    """A key that cannot be checked is a 503 the caller may retry, never a 500 or a 401."""

    def test_when_the_key_lookup_fails_then_the_request_is_503(self, outage):
        """The request answers 503 authentication_unavailable."""
        assert_problem(outage["unauthenticated"], "authentication_unavailable")
        assert "WWW-Authenticate" not in outage["unauthenticated"].headers

    def test_when_the_registry_is_back_then_the_same_key_is_accepted(self, outage):
        """The next request with the same key is authenticated and served."""
        assert outage["after_auth"].status_code == 200


# --- PostgreSQL sessions: consent reads bounded, dropped connections replaced ------------


@pytest.fixture(scope="module")
def pg_proxy(
    demo_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TestClient, Path, str]]:
    """A proxy over a copy of the demo deployment whose store is on PostgreSQL."""
    with (
        demo_copy(
            demo_template, tmp_path_factory.mktemp("pg-sessions"), "postgresql"
        ) as (folder, url),
        proxy(folder, url) as client,
    ):
        yield client, folder, url


@pytest.mark.postgres
class TestPostgresSessions:
    """Store sessions on PostgreSQL wait a bounded time and come back by themselves."""

    def test_when_the_consent_state_is_locked_then_a_marketing_read_is_503(
        self, pg_proxy
    ):
        """The consent lookup gives up at the lock timeout: 503 dependency_unavailable."""
        client, folder, url = pg_proxy
        subject = subjects(folder, minor=False)[1]
        with pg_table_locked(url, "consent_current"):
            response = client.get(
                READ.format(subject=subject),
                headers=auth(keys_of(folder)["campaign-sms"], "marketing_push"),
            )

        assert_problem(response, "dependency_unavailable")

    @pytest.mark.parametrize(
        ("path", "caller"),
        [
            ("/v1/subjects/{subject}/consents", "compliance-officer"),
            (
                "/v1/subjects/{subject}/consents/marketing_push/as-of?at=2026-03-01T10:00:00%2B08:00",
                "compliance-officer",
            ),
        ],
        ids=["history", "as-of"],
    )
    def test_when_the_ledger_is_locked_then_a_consent_history_is_503(
        self, pg_proxy, path, caller, caplog
    ):
        """A ledger read that gives up is a 503 whose trace quotes no subject id."""
        client, folder, url = pg_proxy
        subject = subjects(folder, minor=False)[3]
        with pg_table_locked(url, "consent_events"):
            response = client.get(
                path.format(subject=subject), headers=auth(keys_of(folder)[caller])
            )

        assert_problem(response, "dependency_unavailable")
        assert subject not in caplog.text

    def test_when_the_proxys_sessions_are_terminated_then_reads_go_on(self, pg_proxy):
        """After every store session of the proxy is killed, the next read is served."""
        client, folder, url = pg_proxy
        key, subject = keys_of(folder)["brand-app"], subjects(folder, minor=False)[2]
        assert read(client, key, subject).status_code == 200
        terminated = terminate_backends(url)

        assert terminated >= 2  # the store's pool and the consent reads' pool
        assert read(client, key, subject).status_code == 200

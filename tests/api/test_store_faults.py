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
import json
import shutil
import sqlite3
import threading
from collections.abc import Callable, Coroutine, Iterator
from contextlib import AbstractContextManager, closing, contextmanager
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import httpx2 as httpx
import pytest
from factories import auth, subjects
from fastapi.testclient import TestClient
from pg import fresh_database
from sqlalchemy import insert, select, text
from sqlalchemy.engine import make_url

from audit.verify import VerifyReport, verify_trail
from governance.app import create_app
from governance.auth.models import Caller
from governance.settings import load_settings
from governance.store import open_store

T = TypeVar("T")
READ = "/v1/datasets/customers/records/{subject}"
PROBLEM_JSON = "application/problem+json"
# SQLite: how long a write waits for another process's lock before failing.
SQLITE_BUSY_S = 0.2
Fault = Callable[[str], AbstractContextManager[None]]
TERMINATE_OTHERS = (
    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
)


# --- breaking the store from outside ------------------------------------------------------


class PgSession:
    """A PostgreSQL session on a thread of its own, so it holds locks while requests run."""

    def __init__(self, url: str) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        dsn = make_url(url).set(drivername="postgresql").render_as_string(False)
        self._conn: asyncpg.Connection = self._call(asyncpg.connect(dsn))

    def _call(self, work: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(timeout=30)

    def execute(self, sql: str) -> None:
        """Run `sql` (one or more statements, no parameters) in this session."""
        self._call(self._conn.execute(sql))

    def value(self, sql: str) -> Any:
        """The first column of the first row of `sql`."""
        return self._call(self._conn.fetchval(sql))

    def close(self) -> None:
        """Close the session and stop its thread."""
        self._call(self._conn.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()


@contextmanager
def pg_table_locked(url: str, table: str) -> Iterator[None]:
    """Another session holds `table` in ACCESS EXCLUSIVE mode: no read, no write."""
    session = PgSession(url)
    try:
        session.execute(f"BEGIN; LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        yield
        session.execute("ROLLBACK")
    finally:
        session.close()


@contextmanager
def sqlite_write_locked(url: str) -> Iterator[None]:
    """Another connection holds the store's write lock (WAL: reads go on)."""
    with closing(
        sqlite3.connect(str(make_url(url).database), isolation_level=None)
    ) as db:
        db.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            db.execute("ROLLBACK")


@contextmanager
def sqlite_callers_missing(url: str) -> Iterator[None]:
    """The caller table is not where the store expects it (a damaged store)."""
    with closing(
        sqlite3.connect(str(make_url(url).database), isolation_level=None)
    ) as db:
        db.execute("ALTER TABLE callers RENAME TO callers_away")
        try:
            yield
        finally:
            db.execute("ALTER TABLE callers_away RENAME TO callers")


AUDIT_UNWRITABLE: dict[str, Fault] = {
    "sqlite": sqlite_write_locked,
    "postgresql": lambda url: pg_table_locked(url, "audit_events"),
}
CALLERS_UNREADABLE: dict[str, Fault] = {
    "sqlite": sqlite_callers_missing,
    "postgresql": lambda url: pg_table_locked(url, "callers"),
}


# --- deployments -------------------------------------------------------------------------


async def copy_callers(db: Path, url: str) -> None:
    """Create the store at `url` holding the demo store's callers, keys included."""
    source, target = (
        await open_store(f"sqlite+aiosqlite:///{db}"),
        await open_store(url),
    )
    try:
        async with source.connect() as conn:
            rows = [dict(r._mapping) for r in await conn.execute(select(Caller))]
        async with target.begin() as conn:
            await conn.execute(insert(Caller), rows)
    finally:
        await source.dispose()
        await target.dispose()


@contextmanager
def demo_copy(
    template: Path, tmp_path_factory: pytest.TempPathFactory, kind: str
) -> Iterator[tuple[Path, str]]:
    """A copy of the demo deployment and the URL of its store of this kind."""
    folder = tmp_path_factory.mktemp("store-faults") / "demo"
    shutil.copytree(template, folder)
    if kind == "sqlite":
        yield (
            folder,
            f"sqlite+aiosqlite:///{folder / 'governance.db'}?timeout={SQLITE_BUSY_S}",
        )
        return
    with fresh_database() as url:
        asyncio.run(copy_callers(folder / "governance.db", url))
        yield folder, url


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
    with demo_copy(demo_template, tmp_path_factory, request.param) as (folder, url):
        yield request.param, folder, url


@contextmanager
def proxy(folder: Path, store_url: str) -> Iterator[TestClient]:
    """A running proxy over the deployment in `folder` with its store at `store_url`."""
    settings = load_settings(folder / "govproxy.yaml", env="test", store_url=store_url)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def keys_of(folder: Path) -> dict[str, str]:
    """Caller name -> bearer key of the demo callers."""
    creds = json.loads((folder / "demo-credentials.json").read_text(encoding="utf-8"))
    return {c["name"]: c["key"] for c in creds}


def read(client: TestClient, key: str, subject: str) -> httpx.Response:
    """A governed read that needs no consent (contract), answered 200 when all is well."""
    return client.get(
        READ.format(subject=subject), headers=auth(key, "order_fulfilment")
    )


async def stored_decisions(url: str) -> tuple[list[str], VerifyReport]:
    """Decision ids of every stored access event, and the trail's verification."""
    store = await open_store(url)
    try:
        async with store.connect() as conn:
            found = await conn.execute(
                text(
                    "SELECT decision_id FROM audit_events WHERE decision_id IS NOT NULL"
                )
            )
            decisions = [r[0] for r in found]
        return decisions, await verify_trail(store)
    finally:
        await store.dispose()


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
    decisions, report = asyncio.run(stored_decisions(url))
    return {
        "before": before,
        "unaudited": unaudited,
        "after_audit": after_audit,
        "unauthenticated": unauthenticated,
        "after_auth": after_auth,
        "decisions": decisions,
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
        demo_copy(demo_template, tmp_path_factory, "postgresql") as (folder, url),
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

    def test_when_the_proxys_sessions_are_terminated_then_reads_go_on(self, pg_proxy):
        """After every store session of the proxy is killed, the next read is served."""
        client, folder, url = pg_proxy
        key, subject = keys_of(folder)["brand-app"], subjects(folder, minor=False)[2]
        assert read(client, key, subject).status_code == 200
        session = PgSession(url)
        try:
            terminated = session.value(TERMINATE_OTHERS)
        finally:
            session.close()

        assert terminated >= 2  # the store's pool and the consent reads' pool
        assert read(client, key, subject).status_code == 200

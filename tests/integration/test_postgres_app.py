"""The whole proxy on PostgreSQL: governance store and customer source both on the server.

Each test gets a fresh store database; the customer tables live in one fresh
database per module. Callers are registered through `CallerRegistry`.
"""

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml
from factories import auth
from fastapi.testclient import TestClient
from pg import demo_customers, execute, fetch, pg_customers_url, pg_url

from audit.record import AuditDraft
from audit.writer import AuditWriter
from governance.app import create_app
from governance.auth.registry import CallerRegistry
from governance.catalog import load_catalog
from governance.demo.dataset import Customer
from governance.masking.masks import mask_name
from governance.settings import Settings, load_settings
from governance.store import open_store
from governance.subjects import china_date, is_minor
from governance.types import Role

__all__ = ["pg_customers_url", "pg_url"]  # fixtures: imported so that pytest finds them

pytestmark = pytest.mark.postgres

CALLERS: tuple[tuple[str, Role, list[str]], ...] = (
    ("campaign-sms", Role.SERVICE, ["marketing_push"]),
    ("brand-app", Role.SERVICE, ["marketing_push", "order_fulfilment"]),
    ("compliance-officer", Role.OFFICER, []),
)
CUSTOMERS = demo_customers()
TAG = "高消费"


def adults(*, tagged: bool) -> list[Customer]:
    """Adult customers with (or without) the query tag, in id order."""
    today = china_date(datetime.now(UTC))
    return [
        c
        for c in CUSTOMERS
        if not is_minor(c.birth_date, today) and (TAG in c.tags) == tagged
    ]


def write_deployment(folder: Path, *, store_url: str, source_url: str) -> Path:
    """Write a catalog whose `demo` source is `source_url` and settings naming it."""
    text = (
        resources.files("governance.demo").joinpath("catalog.yaml").read_text("utf-8")
    )
    doc = yaml.safe_load(text)
    doc["sources"]["demo"]["url"] = source_url
    (folder / "catalog.yaml").write_text(
        yaml.safe_dump(doc, allow_unicode=True), "utf-8"
    )
    config = folder / "govproxy.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "env": "test",
                "catalog_file": "catalog.yaml",
                "keys_file": "keys.json",
                "store_url": store_url,
                "log_format": "console",
            }
        ),
        "utf-8",
    )
    return config


def register_callers(settings: Settings) -> dict[str, str]:
    """Register `CALLERS` in the store; return name -> bearer key."""
    purposes = frozenset(load_catalog(settings.catalog_file).purposes)

    async def add_all() -> dict[str, str]:
        store = await open_store(settings.store_url)
        try:
            registry = CallerRegistry(store, known_purposes=purposes)
            writer = AuditWriter(store)
            await writer.start()
            keys = {}
            for name, role, ps in CALLERS:
                _, keys[name], stmt = await registry.registration(
                    name, role, ps, records_consent=name == "brand-app"
                )
                draft = AuditDraft(
                    kind="caller.added", outcome="allowed", caller="test"
                )
                await writer.append(draft, also=[stmt])
            await writer.stop()
            return keys
        finally:
            await store.dispose()

    return asyncio.run(add_all())


@pytest.fixture
def settings(tmp_path: Path, pg_url: str, pg_customers_url: str) -> Settings:
    """Settings of a deployment whose store and customer source are on PostgreSQL."""
    config = write_deployment(tmp_path, store_url=pg_url, source_url=pg_customers_url)
    return load_settings(config)


@pytest.fixture
def keys(settings: Settings) -> dict[str, str]:
    """Caller name -> bearer key."""
    return register_callers(settings)


@pytest.fixture
def client(settings: Settings, keys: dict[str, str]) -> Iterator[TestClient]:
    """A client of the proxy running over PostgreSQL."""
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        yield c


def grant(client: TestClient, key: str, subject_id: str) -> None:
    """Record the subject's marketing consent through the API."""
    response = client.post(
        f"/v1/subjects/{subject_id}/consents",
        json={
            "purpose": "marketing_push",
            "notice_version": "2026.01",
            "declared_frequency": "4/month",
            "method": "click",
            "evidence": {"screen": "opt-in-v3"},
            "channel": "app",
        },
        headers=auth(key),
    )
    assert response.status_code == 201, response.text


def read(client: TestClient, key: str, subject_id: str) -> Any:
    """A governed marketing read of one customer."""
    return client.get(
        f"/v1/datasets/customers/records/{subject_id}",
        headers=auth(key, "marketing_push"),
    )


def verify(client: TestClient, key: str) -> dict[str, Any]:
    """The officer's verification report."""
    response = client.get("/v1/audit/verify", headers=auth(key))
    assert response.status_code == 200, response.text
    report: dict[str, Any] = response.json()
    return report


def test_store_settings_point_at_postgres(settings: Settings, pg_url: str) -> None:
    """The deployment under test really uses the PostgreSQL store and source."""
    catalog = load_catalog(settings.catalog_file)

    assert settings.store_url == pg_url
    assert catalog.sources["demo"].startswith("postgresql+asyncpg://")


def test_when_consent_granted_then_read_is_masked(
    client: TestClient, keys: dict[str, str]
) -> None:
    """A consented read answers 200 with the name masked and the mobile kept."""
    subject = adults(tagged=False)[0]
    grant(client, keys["brand-app"], subject.customer_id)

    response = read(client, keys["campaign-sms"], subject.customer_id)

    assert response.status_code == 200, response.text
    record = response.json()["record"]
    assert record["name"] == mask_name(subject.name)
    assert record["name"] != subject.name
    assert record["mobile"] == subject.mobile
    assert "id_number" not in record or record["id_number"] != subject.id_number
    assert response.headers["X-Decision-Id"] == response.json()["decision_id"]


def test_when_consent_withdrawn_then_next_read_is_refused(
    client: TestClient, keys: dict[str, str]
) -> None:
    """After withdrawal the very next read answers 403 consent_withdrawn."""
    subject_id = adults(tagged=False)[1].customer_id
    grant(client, keys["brand-app"], subject_id)
    assert read(client, keys["campaign-sms"], subject_id).status_code == 200

    withdrawn = client.post(
        f"/v1/subjects/{subject_id}/consents/marketing_push/withdraw",
        headers=auth(keys["brand-app"]),
    )
    response = read(client, keys["campaign-sms"], subject_id)

    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["changed"] is True
    assert response.status_code == 403
    assert response.json()["code"] == "consent_withdrawn"
    assert subject_id not in response.text


def test_withdrawals_sent_to_two_instances_at_once_end_the_grant_once(
    settings: Settings, client: TestClient, keys: dict[str, str]
) -> None:
    """Repeated taps that a load balancer splits over two instances on one
    PostgreSQL: one withdrawal in the ledger, all answered, the trail intact."""
    subject_id = adults(tagged=False)[2].customer_id
    grant(client, keys["brand-app"], subject_id)
    url = f"/v1/subjects/{subject_id}/consents/marketing_push/withdraw"

    with (
        TestClient(create_app(settings), raise_server_exceptions=False) as other,
        ThreadPoolExecutor(8) as pool,
    ):
        answers = list(
            pool.map(
                lambda c: c.post(url, headers=auth(keys["brand-app"])),
                [client, other] * 4,
            )
        )
    history = client.get(
        f"/v1/subjects/{subject_id}/consents", headers=auth(keys["brand-app"])
    ).json()["events"]

    assert [a.status_code for a in answers] == [200] * 8, [a.text for a in answers]
    assert sorted(a.json()["changed"] for a in answers) == [False] * 7 + [True]
    assert [e["action"] for e in history if e["purpose"] == "marketing_push"] == [
        "granted",
        "withdrawn",
    ]
    assert verify(client, keys["compliance-officer"])["ok"] is True


def test_when_a_key_is_revoked_then_its_very_next_request_is_refused(
    settings: Settings, client: TestClient, keys: dict[str, str]
) -> None:
    """Keys are read through the app's own asyncpg pool, never cached: a
    revocation committed elsewhere (the CLI, another instance) holds at once."""
    subject_id = adults(tagged=False)[2].customer_id
    assert read(client, keys["campaign-sms"], subject_id).status_code in (200, 403)

    async def revoke() -> None:
        store = await open_store(settings.store_url)
        try:
            registry = CallerRegistry(store, known_purposes=frozenset())
            stmt = await registry.revocation("campaign-sms")
            async with store.begin() as conn:
                await conn.execute(stmt)
        finally:
            await store.dispose()

    asyncio.run(revoke())
    response = read(client, keys["campaign-sms"], subject_id)

    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"


def test_query_by_tag_returns_only_consented_subjects(
    client: TestClient, keys: dict[str, str]
) -> None:
    """A tag query lists exactly the tagged adults who consented, in id order."""
    tagged = adults(tagged=True)
    consented = [c.customer_id for c in tagged[2:9:2]]
    for subject_id in [*consented, adults(tagged=False)[2].customer_id]:
        grant(client, keys["brand-app"], subject_id)

    response = client.post(
        "/v1/datasets/customers/query",
        json={
            "fields": ["customer_id", "name"],
            "where": {"tags_any": [TAG]},
            "limit": 500,
        },
        headers=auth(keys["campaign-sms"], "marketing_push"),
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert [r["subject_id"] for r in body["records"]] == consented
    assert all(r["name"].endswith("*") for r in body["records"])
    assert sum(body["excluded"].values()) == sum(TAG in c.tags for c in CUSTOMERS) - 4


def test_audit_events_list_for_subject(
    client: TestClient, keys: dict[str, str]
) -> None:
    """The officer sees the subject's consent and read events, and no other subject's."""
    subject_id, other_id = (c.customer_id for c in adults(tagged=False)[3:5])
    grant(client, keys["brand-app"], subject_id)
    grant(client, keys["brand-app"], other_id)
    read(client, keys["campaign-sms"], subject_id)

    response = client.get(
        "/v1/audit/events",
        params={"subject_id": subject_id},
        headers=auth(keys["compliance-officer"]),
    )

    assert response.status_code == 200, response.text
    events = response.json()["events"]
    assert [(e["kind"], e["outcome"]) for e in events] == [
        ("access.read", "allowed"),
        ("consent.granted", "allowed"),
    ]
    assert len({e["subject_ref"] for e in events}) == 1
    assert subject_id not in response.text


def test_audit_trail_verifies(client: TestClient, keys: dict[str, str]) -> None:
    """After grants, reads and a refusal the trail verifies intact."""
    subject_id = adults(tagged=False)[5].customer_id
    grant(client, keys["brand-app"], subject_id)
    read(client, keys["campaign-sms"], subject_id)
    unconsented = adults(tagged=False)[6].customer_id
    read(client, keys["campaign-sms"], unconsented)

    report = verify(client, keys["compliance-officer"])

    assert report["ok"] is True
    assert report["events"] >= 3
    assert report["first_bad"] is None


def test_when_row_tampered_then_verify_names_it(
    client: TestClient, keys: dict[str, str], pg_url: str
) -> None:
    """Changing one stored event with SQL makes verify report that event first."""
    subject_id = adults(tagged=False)[7].customer_id
    grant(client, keys["brand-app"], subject_id)
    read(client, keys["campaign-sms"], subject_id)
    read(client, keys["campaign-sms"], subject_id)
    (target,) = asyncio.run(
        fetch(
            pg_url,
            "SELECT chain_id, seq, event_id FROM audit_events"
            " WHERE kind = 'access.read' ORDER BY seq LIMIT 1",
        )
    )

    status = asyncio.run(
        execute(
            pg_url,
            "UPDATE audit_events SET outcome = 'denied' WHERE chain_id = $1 AND seq = $2",
            target["chain_id"],
            target["seq"],
        )
    )
    report = verify(client, keys["compliance-officer"])

    assert status == "UPDATE 1"
    assert report["ok"] is False
    assert report["first_bad"] == {
        "chain_id": target["chain_id"],
        "seq": target["seq"],
        "event_id": target["event_id"],
        "problem": "altered",
    }


def test_on_postgres_expiry_and_as_of_follow_the_clock(
    client: TestClient, keys: dict[str, str]
) -> None:
    """Expiry and as-of answers hold on PostgreSQL's timestamps as on SQLite's."""
    subject_id = adults(tagged=False)[2].customer_id
    until = datetime.now(UTC) + timedelta(days=1)
    granted = client.post(
        f"/v1/subjects/{subject_id}/consents",
        json={
            "purpose": "marketing_push",
            "notice_version": "2026.01",
            "declared_frequency": "4/month",
            "method": "click",
            "evidence": {"screen": "opt-in-v3"},
            "channel": "app",
            "expires_at": until.isoformat(),
        },
        headers=auth(keys["brand-app"]),
    )
    services = client.app.state.services
    client.app.state.services = replace(
        services, now=lambda: until + timedelta(minutes=1)
    )
    expired = read(client, keys["campaign-sms"], subject_id)
    client.app.state.services = services
    before = client.get(
        f"/v1/subjects/{subject_id}/consents/marketing_push/as-of",
        params={"at": (datetime.now(UTC) - timedelta(days=1)).isoformat()},
        headers=auth(keys["compliance-officer"]),
    )

    assert granted.status_code == 201, granted.text
    assert expired.json()["code"] == "consent_expired"
    assert before.json()["state"] == "none"

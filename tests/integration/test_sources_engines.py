"""The proxy over each source engine: SQLite, PostgreSQL and MariaDB answer alike.

The same synthetic customers (`source_data`: the demo generator's Faker zh_CN
people, plus keys that trip engines not comparing by code point) are loaded
into an SQLite file, a fresh PostgreSQL database and the session's MariaDB
database, each with its key and tag columns in the collation an unwary
deployment gets (NOCASE, an ICU locale, `utf8mb4_general_ci`). Each engine
gets one deployment, built on first use and kept for the module: its own
SQLite governance store, one key file shared by all (so masks, pseudonyms and
tokens agree), and a catalog whose `demo` source is that engine, plus datasets
on sources that fail: a view slower than the statement bound, a port nobody
listens on and, for the network engines, a listener that accepts and then
says nothing.
"""

import asyncio
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import yaml
from factories import auth
from fastapi.testclient import TestClient
from mariadb import mariadb_url
from net import free_port
from pg import fresh_database
from source_data import (
    LINGUISTIC,
    NICKNAME,
    NICKNAME_KEY,
    SPACED_TAG_KEY,
    by_key,
    customers,
    write_tables,
)

from adapters.keys.local import LocalKeyProvider
from audit.record import AuditDraft
from audit.writer import AuditWriter
from governance.app import create_app
from governance.auth.registry import CallerRegistry
from governance.catalog import load_catalog
from governance.settings import Settings, load_settings
from governance.store import open_store
from governance.subjects import china_date, is_minor
from governance.types import Role

__all__ = ["mariadb_url"]  # a fixture: imported so that pytest finds it here

ENGINES = [
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("mariadb", marks=pytest.mark.mariadb),
]
PREFIX = "app_"
BOUND_S = 1.0
"""The deployments' connect and statement bounds: a read gives up within 2 s."""
FAST_S = 4.0
"""A failing read answers within this, where an unbounded one would wait 60 s or forever."""

CALLERS: tuple[tuple[str, Role, list[str]], ...] = (
    ("service-desk", Role.SERVICE, ["customer_service", "order_fulfilment"]),
    ("campaign-sms", Role.SERVICE, ["marketing_push"]),
    ("brand-app", Role.SERVICE, ["marketing_push"]),
)
CUSTOMERS = by_key()
ALL_IDS = sorted(CUSTOMERS)
TAG = "高消费"
TODAY = china_date(datetime.now(UTC))
TAGGED_ADULTS = [
    k
    for k in ALL_IDS
    if TAG in CUSTOMERS[k].tags and not is_minor(CUSTOMERS[k].birth_date, TODAY)
]
CONSENTED = [*TAGGED_ADULTS[::3], SPACED_TAG_KEY]
"""Subjects granting marketing consent: every third tagged adult, and one whose tag is `高消费 `."""
LOOKALIKES = ["c000042", "C000042 ", "D7", "a10", "B2 ", "e1"]
"""Ids that a case-folding or space-padding store would match to another subject."""
READ_IDS = ["C000001", "C000042", "C000199", *sorted(k for k in ALL_IDS if k[0] != "C")]


@dataclass
class Deployment:
    """One proxy over one engine, its callers' keys, and its answers once asked."""

    client: TestClient
    keys: dict[str, str]
    answers: list[Any] = field(default_factory=list)


class Deployments:
    """Builds the deployment of an engine on first use; closes them all at the end."""

    def __init__(self, folder: Path, request: pytest.FixtureRequest) -> None:
        self._folder = folder
        self._request = request
        self._stack = ExitStack()
        self._built: dict[str, Deployment] = {}
        self._silent = self._stack.enter_context(socket.socket())
        self._silent.bind(("127.0.0.1", 0))
        self._silent.listen(64)  # accepted by the kernel, never answered
        LocalKeyProvider(folder / "keys.json")  # one key file for every engine

    def get(self, engine: str) -> Deployment:
        """The deployment over `engine`, built if need be."""
        if engine not in self._built:
            self._built[engine] = self._build(engine)
        return self._built[engine]

    def close(self) -> None:
        """Stop every proxy and drop every database made for them."""
        self._stack.close()

    def _build(self, engine: str) -> Deployment:
        folder = self._folder / engine
        folder.mkdir()
        url, sources = self._sources(engine, folder)
        write_tables(url, customers(), key_collation=LINGUISTIC, prefix=PREFIX)
        settings = _write_deployment(folder, sources)
        keys = _register_callers(settings)
        client = self._stack.enter_context(
            TestClient(create_app(settings), raise_server_exceptions=False)
        )
        for subject_id in CONSENTED:
            _grant(client, keys["brand-app"], subject_id)
        return Deployment(client, keys)

    def _sources(self, engine: str, folder: Path) -> tuple[str, dict[str, str]]:
        """The customers' URL, and every source of the catalog by name."""
        closed, silent = free_port(), self._silent.getsockname()[1]
        if engine == "sqlite":
            url = f"sqlite+aiosqlite:///{folder / 'customers.db'}"
            down = folder / "missing" / "customers.db"
            return url, {"demo": url, "down": f"sqlite+aiosqlite:///{down}"}
        if engine == "postgres":
            url = self._stack.enter_context(fresh_database())
            network = "postgresql+asyncpg://postgres@127.0.0.1:{}/test"
        else:
            url = self._request.getfixturevalue("mariadb_url")
            network = "mysql+aiomysql://root@127.0.0.1:{}/test"
        sources = {
            "demo": url,
            "down": network.format(closed),
            "hung": network.format(silent),
        }
        return url, sources


def _write_deployment(folder: Path, sources: dict[str, str]) -> Settings:
    """A catalog over `sources` and settings naming it, with tight source bounds."""
    text = (
        resources.files("governance.demo").joinpath("catalog.yaml").read_text("utf-8")
    )
    doc = yaml.safe_load(text)
    doc["sources"] = {name: {"url": url} for name, url in sources.items()}
    base = doc["datasets"]["customers"]
    base["table"] = f"{PREFIX}customers"
    base["tags"]["table"] = f"{PREFIX}customer_tags"
    doc["datasets"]["slow_customers"] = {**base, "table": f"{PREFIX}slow_customers"}
    for name in sources.keys() - {"demo"}:
        doc["datasets"][f"{name}_customers"] = {**base, "source": name}
    (folder / "catalog.yaml").write_text(
        yaml.safe_dump(doc, allow_unicode=True), "utf-8"
    )
    config = folder / "govproxy.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "env": "test",
                "catalog_file": "catalog.yaml",
                "keys_file": "../keys.json",
                "store_url": "sqlite+aiosqlite:///governance.db",
                "log_format": "console",
                "policy_reload_seconds": 0,
                "sources": {
                    "connect_timeout_s": BOUND_S,
                    "statement_timeout_s": BOUND_S,
                },
            }
        ),
        "utf-8",
    )
    return load_settings(config)


def _register_callers(settings: Settings) -> dict[str, str]:
    """Register `CALLERS` in the deployment's store; return name -> bearer key."""
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


def _grant(client: TestClient, key: str, subject_id: str) -> None:
    """Record the subject's marketing consent through the API."""
    response = client.post(
        f"/v1/subjects/{quote(subject_id, safe='')}/consents",
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


@pytest.fixture(scope="module")
def deployments(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Deployments]:
    """Deployments over each engine, built when a test first asks for one."""
    built = Deployments(tmp_path_factory.mktemp("sources"), request)
    try:
        yield built
    finally:
        built.close()


def read(d: Deployment, subject_id: str, dataset: str = "customers") -> Any:
    """A customer-service read of one record."""
    return d.client.get(
        f"/v1/datasets/{dataset}/records/{quote(subject_id, safe='')}",
        headers=auth(d.keys["service-desk"], "customer_service"),
    )


def pages(
    d: Deployment, caller: str, purpose: str, where: dict[str, Any], limit: int
) -> list[dict[str, Any]]:
    """Every page of a governed query, following its cursor, without decision ids."""
    out, cursor = [], None
    while True:
        body: dict[str, Any] = {"where": where, "limit": limit}
        if cursor:
            body["cursor"] = cursor
        response = d.client.post(
            "/v1/datasets/customers/query",
            json=body,
            headers=auth(d.keys[caller], purpose),
        )
        assert response.status_code == 200, response.text
        page = response.json()
        out.append({"records": page["records"], "excluded": page["excluded"]})
        cursor = page["next_cursor"]
        if cursor is None:
            return out


def answers(d: Deployment) -> list[Any]:
    """The deployment's answers to a fixed run of reads and queries, asked once."""
    if not d.answers:
        for subject_id in [*READ_IDS, *LOOKALIKES]:
            response = read(d, subject_id)
            body = response.json()
            body.pop("decision_id", None)
            d.answers.append((subject_id, response.status_code, body))
        d.answers.append(pages(d, "service-desk", "order_fulfilment", {}, 23))
        d.answers.append(
            pages(d, "campaign-sms", "marketing_push", {"tags_any": [TAG]}, 7)
        )
    return d.answers


@pytest.mark.parametrize(
    "engine",
    [
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("mariadb", marks=pytest.mark.mariadb),
    ],
)
def test_answers_match_sqlite(deployments: Deployments, engine: str) -> None:
    """The same reads and queries give the same answers as over SQLite, byte for byte."""
    reference = answers(deployments.get("sqlite"))

    got = answers(deployments.get(engine))

    assert len(got) == len(reference)
    for mine, theirs in zip(got, reference, strict=True):
        assert mine == theirs


@pytest.mark.parametrize("engine", ENGINES)
def test_pages_follow_code_point_order(deployments: Deployments, engine: str) -> None:
    """Paging through every customer returns each key once, in Python's sorted order."""
    got = answers(deployments.get(engine))[-2]

    ids = [r["subject_id"] for page in got for r in page["records"]]

    assert ids == ALL_IDS
    assert len(got) == len(ALL_IDS) // 23 + 1


@pytest.mark.parametrize("engine", ENGINES)
def test_tag_query_pages_hold_exactly_the_consented_tagged_adults(
    deployments: Deployments, engine: str
) -> None:
    """A 高消费 audience lists the consented tagged adults in key order, never `高消费 `."""
    got = answers(deployments.get(engine))[-1]

    ids = [r["subject_id"] for page in got for r in page["records"]]
    excluded = sum(sum(page["excluded"].values()) for page in got)

    assert ids == [k for k in CONSENTED if k != SPACED_TAG_KEY]
    tagged = sum(TAG in c.tags for c in CUSTOMERS.values())
    assert excluded == tagged - len(ids)


@pytest.mark.parametrize("engine", ENGINES)
def test_chinese_and_four_byte_text_round_trip(
    deployments: Deployments, engine: str
) -> None:
    """A Chinese name, and a nickname with 𠮷 and an emoji under a key with 𠮷, come back whole."""
    response = read(deployments.get(engine), NICKNAME_KEY)

    assert response.status_code == 200, response.text
    record = response.json()["record"]
    assert record["nickname"] == NICKNAME
    assert record["customer_id"] == NICKNAME_KEY
    assert record["name"] == CUSTOMERS[NICKNAME_KEY].name


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("subject_id", LOOKALIKES)
def test_lookalike_ids_are_unknown_subjects(
    deployments: Deployments, engine: str, subject_id: str
) -> None:
    """An id differing from a stored key only by case or spaces names no one."""
    response = read(deployments.get(engine), subject_id)

    assert response.status_code == 404, response.text
    assert response.json()["code"] == "unknown_subject"


@pytest.mark.parametrize("engine", ENGINES)
def test_trailing_space_key_is_its_own_subject(
    deployments: Deployments, engine: str
) -> None:
    """The stored key `D7 ` reads its own record, and `D7` does not."""
    d = deployments.get(engine)

    spaced, bare = read(d, "D7 "), read(d, "D7")

    assert spaced.status_code == 200, spaced.text
    assert spaced.json()["record"]["customer_id"] == "D7 "
    assert bare.status_code == 404


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("dataset", ["slow_customers", "down_customers"])
def test_failing_source_answers_503_quickly(
    deployments: Deployments, engine: str, dataset: str
) -> None:
    """A slow or unreachable source gives 503 within the bounds, and the proxy goes on."""
    d = deployments.get(engine)
    started = time.monotonic()

    response = read(d, "C000001", dataset)

    elapsed = time.monotonic() - started
    assert response.status_code == 503, response.text
    assert response.json()["code"] == "dependency_unavailable"
    assert elapsed < FAST_S
    assert not any(s in response.text for s in ("127.0.0.1", "missing", "@", "slow"))
    assert read(d, "C000001").status_code == 200


@pytest.mark.parametrize(
    "engine",
    [
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("mariadb", marks=pytest.mark.mariadb),
    ],
)
def test_silent_server_answers_503_within_both_bounds(
    deployments: Deployments, engine: str
) -> None:
    """A server that accepts the connection and never speaks costs one deadline, no more."""
    d = deployments.get(engine)
    started = time.monotonic()

    response = read(d, "C000001", "hung_customers")

    elapsed = time.monotonic() - started
    assert response.status_code == 503, response.text
    assert response.json()["code"] == "dependency_unavailable"
    assert elapsed < FAST_S

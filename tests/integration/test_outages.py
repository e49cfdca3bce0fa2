"""PostgreSQL outages under load: fail closed with 503, recover without restarting the proxy.

One `govproxy serve` process runs over a copy of the demo deployment whose
governance store and customer source are both on one fresh PostgreSQL
database, each reached through its own `relay.Relay`. The machine's
PostgreSQL server is shared with other tests and sessions, so it is never
restarted or slowed itself: a relay stands in for the network path, and each
fault is staged on it.

- Restart: the store's relay stops (every connection reset, new ones refused)
  and the proxy's sessions are terminated on the server
  (`pg_terminate_backend`), which is what a restart looks like to a client;
  a moment later the relay listens again.
- Pool exhaustion: the store's relay delays every answer, so each request
  holds its store connection for seconds while many more arrive than the
  store's pool holds.
- A slow source: the source's relay holds every answer longer than the
  source's connect and statement bounds.

Throughout, clients must get answers, never a 500 or a cut connection: 200 or
403 when all is well, a 503 problem+json with a stable code during a fault,
within a bounded time; afterwards the same process serves reads again. Every
200 or 403 has exactly one audit event and the trail verifies at the end.
"""

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from accounting import Answer, stored, unaudited
from breakers import terminate_backends
from factories import auth, subjects
from pg import write_customer_tables
from relay import Relay
from served import (
    READ,
    Load,
    crowd,
    demo_copy,
    drive,
    governed_reads,
    keys_of,
    proxy_env,
    serving,
)
from sqlalchemy.engine import make_url

from adapters.sql.engine import PG_POOL_WAIT_S as POOL_WAIT_S
from governance.demo.dataset import generate_customers
from governance.settings import load_settings

OUTAGE_AFTER = 60  # answers before the store's relay stops
OUTAGE_S = 1.5  # how long the store is away
RECOVERED_S = 3.0  # the load goes on this long after the store is back
STORE_CODES = {"authentication_unavailable", "dependency_unavailable"}
CROWD = 70  # concurrent reads: more than the store's pool (20 + 20 overflow)
SLOW_STORE_S = 1.5  # per answer of the store while the pool is exhausted
SOURCE_BOUND_S = 0.5  # connect and statement bounds of the source
SLOW_SOURCE_S = 30.0  # longer than any wait: a source that never answers
pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def outages(
    demo_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """The proxy over relayed PostgreSQL: its URL, the relays and the store's URL."""
    root = tmp_path_factory.mktemp("outages")
    with demo_copy(demo_template, root, "postgresql") as (folder, url):
        settings = load_settings(folder / "govproxy.yaml")
        count = len(subjects(folder))
        write_customer_tables(url, generate_customers(seed=7, count=count))
        target = make_url(url)
        server = (target.host or "127.0.0.1", target.port or 5432)
        store, source = Relay(server), Relay(server)
        relayed = {
            r: target.set(port=r.port).render_as_string(False) for r in (store, source)
        }
        catalog = yaml.safe_load(settings.catalog_file.read_text("utf-8"))
        catalog["sources"]["demo"]["url"] = relayed[source]
        settings.catalog_file.write_text(yaml.safe_dump(catalog, allow_unicode=True))
        env = proxy_env(
            relayed[store],
            sources__connect_timeout_s=str(SOURCE_BOUND_S),
            sources__statement_timeout_s=str(SOURCE_BOUND_S),
        )
        try:
            with serving(folder, env, root / "serve.log") as (proc, base):
                yield {
                    "folder": folder, "url": url, "base": base, "proc": proc,
                    "store": store, "source": source,
                }  # fmt: skip
        finally:
            store.close()
            source.close()


def contract_read(folder: Path, n: int = 0) -> tuple[str, dict[str, str]]:
    """A read served 200 when all is well (order fulfilment needs no consent)."""
    subject = subjects(folder, minor=False)[n]
    return READ.format(subject=subject), auth(
        keys_of(folder)["brand-app"], "order_fulfilment"
    )


def latency(a: Answer) -> float:
    """How long an answer took."""
    return a.received - a.sent


# --- PostgreSQL restarted during load ----------------------------------------------------


@pytest.fixture(scope="module")
def restart(outages: dict[str, Any]) -> dict[str, Any]:
    """Reads before, during and after a store restart, and what the store holds."""
    folder, url, store = outages["folder"], outages["url"], outages["store"]
    window: dict[str, float] = {}

    async def restart_store(load: Load) -> None:
        window["down"] = time.monotonic()
        store.stop()
        window["terminated"] = terminate_backends(url)
        await asyncio.sleep(OUTAGE_S)
        store.start()
        window["up"] = time.monotonic()
        await asyncio.sleep(RECOVERED_S)
        load.stop()

    load = asyncio.run(
        drive(
            outages["base"],
            governed_reads(folder),
            until=OUTAGE_AFTER,
            then=restart_store,
        )
    )
    events, report = asyncio.run(stored(url))
    return {"load": load, "window": window, "events": events, "report": report}


class TestPostgresRestart:
    """A store restart fails reads closed, and the same process recovers by itself."""

    def test_reads_during_the_outage_are_503_with_a_store_code(self, restart):
        """Every read that was not served got a 503 naming the store; none was cut."""
        failed = [a for a in restart["load"].answers if a.status not in (200, 403)]

        assert restart["load"].cut == []
        assert failed, "no read saw the outage"
        assert {(a.status, a.code) for a in failed} <= {(503, c) for c in STORE_CODES}

    def test_the_proxy_serves_again_once_the_store_is_back(self, restart):
        """Reads sent a moment after the store returned are all served."""
        settled = restart["window"]["up"] + 1.0
        after = [a.status for a in restart["load"].answers if a.sent > settled]

        assert restart["window"]["terminated"] >= 1
        assert len(after) >= 10
        assert set(after) <= {200, 403}

    def test_every_answered_read_has_one_event_and_the_trail_verifies(self, restart):
        """Each 200 or 403 is audited once; the chain verifies across the outage."""
        served = [a for a in restart["load"].answers if a.status in (200, 403)]

        assert unaudited(served, restart["events"]) == []
        assert restart["report"].ok, restart["report"]


# --- connection pool exhaustion ----------------------------------------------------------


@pytest.fixture(scope="module")
def exhausted(outages: dict[str, Any], restart: dict[str, Any]) -> dict[str, Any]:
    """A crowd of reads while every store answer is slow, then one read at full speed."""
    path, headers = contract_read(outages["folder"], 1)
    store = outages["store"]

    async def slow_store_for_a_while() -> list[Answer]:
        store.delay_s = SLOW_STORE_S
        try:
            reads = asyncio.ensure_future(crowd(outages["base"], path, headers, CROWD))
            # past the pool's wait the refusals are in; those with a connection
            # then finish at full speed
            await asyncio.wait({reads}, timeout=POOL_WAIT_S + 1.5)
        finally:
            store.delay_s = 0.0
        return await reads

    answers = asyncio.run(slow_store_for_a_while())
    after = asyncio.run(crowd(outages["base"], path, headers, 1))[0]
    return {"answers": answers, "after": after}


class TestPoolExhaustion:
    """More concurrent slow requests than the pool: bounded waits, 503s, then service."""

    def test_requests_past_the_pool_get_503_after_a_bounded_wait(self, exhausted):
        """Reads that found no free connection were refused 503 within the pool's wait."""
        refused = [a for a in exhausted["answers"] if a.status != 200]

        assert refused, "the pool was never exhausted"
        assert {(a.status, a.code) for a in refused} <= {(503, c) for c in STORE_CODES}
        assert max(latency(a) for a in refused) < POOL_WAIT_S + 3.0

    def test_requests_with_a_connection_are_served(self, exhausted):
        """The reads that got a connection were answered 200, none later than bounds allow."""
        served = [a for a in exhausted["answers"] if a.status == 200]

        assert served
        assert max(latency(a) for a in exhausted["answers"]) < 15.0

    def test_the_proxy_serves_normally_afterwards(self, exhausted):
        """The next read, with the store at full speed, is served at once."""
        assert exhausted["after"].status == 200
        assert latency(exhausted["after"]) < 2.0


# --- a slow data source ------------------------------------------------------------------


@pytest.fixture(scope="module")
def slow_source(outages: dict[str, Any], exhausted: dict[str, Any]) -> dict[str, Any]:
    """A crowd of reads while the source never answers, then reads once it is back."""
    path, headers = contract_read(outages["folder"], 2)
    source = outages["source"]
    source.delay_s = SLOW_SOURCE_S
    try:
        answers = asyncio.run(crowd(outages["base"], path, headers, 20))
    finally:
        source.delay_s = 0.0
        source.stop()  # the held connections are dropped when the source is back
        source.start()
    after = asyncio.run(crowd(outages["base"], path, headers, 2))
    events, _ = asyncio.run(stored(outages["url"]))
    return {"answers": answers, "after": after, "events": events}


class TestSlowSource:
    """A source that never answers costs each read one deadline, no more."""

    def test_reads_fail_within_the_source_bounds(self, slow_source):
        """Twenty concurrent reads all answer 503 within the deadline plus a margin."""
        answers = slow_source["answers"]

        assert {(a.status, a.code) for a in answers} == {
            (503, "dependency_unavailable")
        }
        assert max(latency(a) for a in answers) < 2 * SOURCE_BOUND_S + 1.5

    def test_each_failed_read_is_audited_as_an_error(self, slow_source):
        """Every refused read has one event with outcome error."""
        assert unaudited(slow_source["answers"], slow_source["events"]) == []

    def test_reads_are_served_once_the_source_is_back(self, slow_source):
        """The same process serves the next reads: no restart."""
        assert [a.status for a in slow_source["after"]] == [200, 200]

"""Source engines bound every wait: slow statements, silent servers, unknown drivers.

The slow dataset is a view that sleeps for a minute (`source_data`); the silent
server is a loopback socket that the kernel accepts connections on and nobody
ever answers. Bounds are 0.5 s to connect and 0.5 s per statement, so a read
gives up within a second; 20 reads at once must not take much longer than one.
"""

import asyncio
import socket
import time
from collections.abc import Iterator
from dataclasses import replace
from importlib import resources
from pathlib import Path

import pytest
from mariadb import execute as mariadb_execute
from mariadb import fetch as mariadb_fetch
from mariadb import mariadb_url
from pg import fetch as pg_fetch
from pg import fresh_database
from source_data import LINGUISTIC, customers, write_tables

from adapters.sources.engines import Timeouts
from adapters.sources.sql import SqlDataSource
from governance.catalog import Dataset, load_catalog
from governance.errors import ConfigurationError, DataSourceUnavailable

__all__ = ["mariadb_url"]  # a fixture: imported so that pytest finds it here

PREFIX = "eng_"
TIGHT = Timeouts(connect_s=0.5, statement_s=0.5)
CROWD = 20
WITHIN_S = 3.0
"""All of a crowd's reads have failed by then: a few deadlines, not twenty."""
NETWORK = [
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("mariadb", marks=pytest.mark.mariadb),
]
_RUNNING = {
    "postgres": "SELECT pid FROM pg_stat_activity WHERE state = 'active'"
    " AND query LIKE '%eng_slow_customers%' AND pid <> pg_backend_pid()",
    "mariadb": "SELECT id FROM information_schema.processlist"
    " WHERE info LIKE '%eng_slow_customers%' AND id <> CONNECTION_ID()",
}


@pytest.fixture(scope="module")
def datasets() -> dict[str, Dataset]:
    """The demo `customers` dataset over the `eng_` tables, and its slow view."""
    path = Path(str(resources.files("governance.demo").joinpath("catalog.yaml")))
    demo = load_catalog(path).dataset("customers")
    assert demo.tags is not None
    tags = replace(demo.tags, table=f"{PREFIX}customer_tags")
    return {
        name: replace(demo, name=name, table=f"{PREFIX}{name}", tags=tags)
        for name in ("customers", "slow_customers")
    }


@pytest.fixture(scope="module", params=NETWORK)
def server(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """(engine, URL) of a server database holding the customers and the slow view."""
    if request.param == "postgres":
        with fresh_database() as url:
            write_tables(url, customers(), key_collation=LINGUISTIC, prefix=PREFIX)
            yield request.param, url
            stop_leftovers(request.param, url)
    else:
        url = request.getfixturevalue("mariadb_url")
        write_tables(url, customers(), key_collation=LINGUISTIC, prefix=PREFIX)
        yield request.param, url
        stop_leftovers(request.param, url)


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port whose connections are accepted and never answered."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(CROWD * 2)
        yield listener.getsockname()[1]


async def crowd(
    source: SqlDataSource, dataset: Dataset
) -> tuple[list[BaseException | object], float]:
    """`CROWD` reads at once; their outcomes and the seconds until the last ended."""
    started = time.monotonic()
    outcomes = await asyncio.gather(
        *[source.fetch_record(dataset, "C000001", ["name"]) for _ in range(CROWD)],
        return_exceptions=True,
    )
    return list(outcomes), time.monotonic() - started


def running(engine: str, url: str) -> list[int]:
    """The server's ids of the statements on the slow view it is still running."""
    if engine == "postgres":
        return [r[0] for r in asyncio.run(pg_fetch(url, _RUNNING[engine]))]
    return [r[0] for r in mariadb_fetch(url, _RUNNING[engine])]


def stop_leftovers(engine: str, url: str) -> None:
    """Stop what a failed test left running, so that its database can be dropped."""
    for ident in running(engine, url):
        if engine == "postgres":
            asyncio.run(pg_fetch(url, "SELECT pg_cancel_backend($1)", ident))
        else:
            mariadb_execute(url, [f"KILL QUERY {int(ident)}"])


def test_unsupported_driver_names_the_source_not_the_url() -> None:
    """A synchronous driver is refused at startup, naming the source entry only."""
    with pytest.raises(ConfigurationError) as caught:
        SqlDataSource.from_urls({"crm": "mysql+pymysql://app:s3cret@db.example/crm"})

    message = str(caught.value)
    assert message.startswith("sources.crm.url: source driver 'mysql+pymysql'")
    assert "mysql+aiomysql" in message
    assert not any(s in message for s in ("s3cret", "db.example", "app:"))


@pytest.mark.parametrize("dialect", ["postgres", "mariadb"])
def test_silent_server_costs_one_deadline_per_crowd(
    dialect: str, silent_port: int, datasets: dict[str, Dataset]
) -> None:
    """Reads against a server that never answers all fail within the deadline, twice over."""
    url = {
        "postgres": f"postgresql+asyncpg://postgres@127.0.0.1:{silent_port}/test",
        "mariadb": f"mysql+aiomysql://root@127.0.0.1:{silent_port}/test",
    }[dialect]

    async def twice() -> list[tuple[list[BaseException | object], float]]:
        source = SqlDataSource.from_urls({"demo": url}, TIGHT)
        try:
            return [await crowd(source, datasets["customers"]) for _ in range(2)]
        finally:
            await source.close()

    for outcomes, elapsed in asyncio.run(twice()):
        assert all(isinstance(o, DataSourceUnavailable) for o in outcomes)
        assert elapsed < TIGHT.deadline_s + 0.5


def test_slow_statements_fail_together_and_stop_on_the_server(
    server: tuple[str, str], datasets: dict[str, Dataset]
) -> None:
    """A crowd of slow reads fails within the bounds, the server drops them, reads go on."""
    engine, url = server

    async def slow_then_fast() -> tuple[list[BaseException | object], float, object]:
        source = SqlDataSource.from_urls({"demo": url}, TIGHT)
        try:
            outcomes, elapsed = await crowd(source, datasets["slow_customers"])
            after = await source.fetch_record(
                datasets["customers"], "C000001", ["name"]
            )
            return outcomes, elapsed, after
        finally:
            await source.close()

    outcomes, elapsed, after = asyncio.run(slow_then_fast())
    deadline = time.monotonic() + 2 * TIGHT.statement_s
    while running(engine, url) and time.monotonic() < deadline:
        time.sleep(0.05)

    assert all(isinstance(o, DataSourceUnavailable) for o in outcomes), outcomes
    assert elapsed < WITHIN_S
    assert running(engine, url) == []
    assert after == {"name": customers()[0].name}

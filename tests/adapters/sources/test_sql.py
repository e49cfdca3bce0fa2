"""SqlDataSource on SQLite and PostgreSQL: the same customers give the same answers."""

import asyncio
import threading
from collections.abc import Awaitable, Callable
from importlib import resources
from pathlib import Path
from typing import TypeVar

import pytest
from pg import COUNT, SEED, database_url, demo_customers, pg_customers_url

from adapters.sources.sql import SqlDataSource
from governance.catalog import Dataset, load_catalog
from governance.demo.dataset import write_demo_store
from governance.errors import DataSourceUnavailable

__all__ = ["pg_customers_url"]  # a fixture: imported so that pytest finds it here

T = TypeVar("T")
CUSTOMERS = {c.customer_id: c for c in demo_customers()}
ALL_IDS = sorted(CUSTOMERS)
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
METACHARACTERS = ["' OR '1'='1", "%", "_", "C%", "C00000_", "高消费' OR '1'='1"]


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    """The demo catalog's `customers` dataset."""
    path = Path(str(resources.files("governance.demo").joinpath("catalog.yaml")))
    return load_catalog(path).dataset("customers")


@pytest.fixture(scope="module")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """An SQLite store of the demo customers."""
    path = tmp_path_factory.mktemp("sql-source") / "customers.db"
    write_demo_store(path, seed=SEED, count=COUNT)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture(scope="module", params=BACKENDS)
def url(request: pytest.FixtureRequest) -> str:
    """The URL of a store holding the demo customers, one per backend."""
    name = "sqlite_url" if request.param == "sqlite" else "pg_customers_url"
    return request.getfixturevalue(name)


def run(url: str, work: Callable[[SqlDataSource], Awaitable[T]]) -> T:
    """Run `work` against a source named `demo` at `url`, then close the source."""

    async def main() -> T:
        source = SqlDataSource.from_urls({"demo": url})
        try:
            return await work(source)
        finally:
            await source.close()
            _settle_sqlite_workers()

    return asyncio.run(main())


def _settle_sqlite_workers() -> None:
    """Wait for aiosqlite worker threads while the loop is still open.

    When a connection fails to open, aiosqlite stops its thread by posting to the
    loop from that thread; if `asyncio.run` has closed the loop by then, the thread
    dies with "Event loop is closed", which pytest reports on a later test.
    """
    for thread in threading.enumerate():
        if thread.name.endswith("(_connection_worker_thread)"):
            thread.join(timeout=2)


def scan_ids(
    url: str,
    dataset: Dataset,
    *,
    tags_any: tuple[str, ...] = (),
    tags_all: tuple[str, ...] = (),
    after: str | None = None,
    limit: int = 1000,
) -> list[str]:
    """Customer ids a scan returns, in the order it returns them."""
    rows = run(
        url,
        lambda s: s.scan(
            dataset,
            columns=["customer_id"],
            tags_any=tags_any,
            tags_all=tags_all,
            after=after,
            limit=limit,
        ),
    )
    return [r["customer_id"] for r in rows]


def expected_ids(
    *, tags_any: tuple[str, ...] = (), tags_all: tuple[str, ...] = ()
) -> list[str]:
    """Ids of the generated customers carrying any of `tags_any` and all of `tags_all`."""
    return [
        cid
        for cid in ALL_IDS
        if (not tags_any or set(tags_any) & set(CUSTOMERS[cid].tags))
        and set(tags_all) <= set(CUSTOMERS[cid].tags)
    ]


class TestFetchRecord:
    """One subject's row."""

    def test_returns_only_requested_columns(self, url: str, dataset: Dataset) -> None:
        """The row holds exactly the requested columns, with the stored values."""
        want = CUSTOMERS["C000042"]

        row = run(url, lambda s: s.fetch_record(dataset, "C000042", ["name", "mobile"]))

        assert row == {"name": want.name, "mobile": want.mobile}

    def test_returns_every_declared_column_when_asked(
        self, url: str, dataset: Dataset
    ) -> None:
        """All catalog fields can be read, birth date as an ISO date."""
        want = CUSTOMERS["C000007"]

        row = run(
            url, lambda s: s.fetch_record(dataset, "C000007", list(dataset.fields))
        )

        assert row is not None
        assert set(row) == set(dataset.fields)
        assert str(row["birth_date"]) == want.birth_date.isoformat()
        assert (row["id_number"], row["service_note"]) == (
            want.id_number,
            want.service_note,
        )

    def test_when_subject_absent_then_none(self, url: str, dataset: Dataset) -> None:
        """A subject the table does not hold gives None."""
        assert run(url, lambda s: s.fetch_record(dataset, "C999999", ["name"])) is None

    @pytest.mark.parametrize("value", METACHARACTERS)
    def test_metacharacters_in_subject_id_are_data(
        self, url: str, dataset: Dataset, value: str
    ) -> None:
        """A subject id with SQL or LIKE metacharacters matches nothing."""
        assert run(url, lambda s: s.fetch_record(dataset, value, ["name"])) is None


class TestScan:
    """Rows in key order, filtered by tags."""

    def test_orders_by_key_and_respects_limit(self, url: str, dataset: Dataset) -> None:
        """Without filters a scan returns the first `limit` ids in key order."""
        assert scan_ids(url, dataset, limit=10) == ALL_IDS[:10]

    def test_returns_every_row_when_limit_allows(
        self, url: str, dataset: Dataset
    ) -> None:
        """A limit above the row count returns every id once, in key order."""
        assert scan_ids(url, dataset) == ALL_IDS

    def test_starts_after_the_given_key(self, url: str, dataset: Dataset) -> None:
        """`after` is exclusive: the next page starts at the following key."""
        assert scan_ids(url, dataset, after="C000150", limit=20) == ALL_IDS[150:170]

    def test_after_the_last_key_is_empty(self, url: str, dataset: Dataset) -> None:
        """A scan after the last key returns nothing."""
        assert scan_ids(url, dataset, after=ALL_IDS[-1]) == []

    def test_returns_only_requested_columns(self, url: str, dataset: Dataset) -> None:
        """Every scanned row holds exactly the requested columns."""
        rows = run(
            url,
            lambda s: s.scan(
                dataset,
                columns=["customer_id", "nickname"],
                tags_any=[],
                tags_all=[],
                after=None,
                limit=5,
            ),
        )

        assert rows == [
            {"customer_id": cid, "nickname": CUSTOMERS[cid].nickname}
            for cid in ALL_IDS[:5]
        ]

    @pytest.mark.parametrize(
        ("tags_any", "tags_all"),
        [
            (("孕期",), ()),
            (("孕期", "糖尿病", "负债"), ()),
            ((), ("高消费",)),
            ((), ("高消费", "母婴")),
            (("美妆", "运动"), ("复购",)),
        ],
        ids=["any-one", "any-three", "all-one", "all-two", "any-and-all"],
    )
    def test_tag_filters_select_exactly_the_tagged(
        self,
        url: str,
        dataset: Dataset,
        tags_any: tuple[str, ...],
        tags_all: tuple[str, ...],
    ) -> None:
        """tags_any is an OR, tags_all an AND, and both together must hold."""
        expected = expected_ids(tags_any=tags_any, tags_all=tags_all)

        got = scan_ids(url, dataset, tags_any=tags_any, tags_all=tags_all)

        assert expected, "the generated customers should carry these tags"
        assert len(expected) < COUNT
        assert got == expected

    def test_tag_filter_pages_with_after_and_limit(
        self, url: str, dataset: Dataset
    ) -> None:
        """A filtered scan pages like an unfiltered one."""
        expected = expected_ids(tags_any=("高消费", "母婴"))

        first = scan_ids(url, dataset, tags_any=("高消费", "母婴"), limit=7)
        rest = scan_ids(url, dataset, tags_any=("高消费", "母婴"), after=first[-1])

        assert first == expected[:7]
        assert rest == expected[7:]

    @pytest.mark.parametrize("value", METACHARACTERS)
    @pytest.mark.parametrize("kind", ["tags_any", "tags_all"])
    def test_metacharacters_in_tags_are_data(
        self, url: str, dataset: Dataset, kind: str, value: str
    ) -> None:
        """A tag with SQL or LIKE metacharacters matches no row."""
        assert scan_ids(url, dataset, **{kind: (value,)}) == []


def _missing_pg_database() -> str:
    return database_url("gov_missing_db_0000").replace(
        "postgres@", "postgres:s3cret-pw@", 1
    )


@pytest.mark.parametrize(
    "broken",
    [
        pytest.param("sqlite", id="sqlite-missing-dir"),
        pytest.param(
            "postgres", id="postgres-missing-database", marks=pytest.mark.postgres
        ),
    ],
)
def test_broken_source_raises_unavailable_without_url(
    broken: str, dataset: Dataset, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A source that cannot be opened raises DataSourceUnavailable naming no URL."""
    if broken == "postgres":
        request.getfixturevalue("pg_customers_url")  # skips or fails without the server
        url, secrets = (
            _missing_pg_database(),
            ["s3cret-pw", "gov_missing_db", "127.0.0.1"],
        )
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'customers.db'}"
        secrets = [str(tmp_path), "customers.db"]

    with pytest.raises(DataSourceUnavailable) as caught:
        run(url, lambda s: s.fetch_record(dataset, "C000001", ["name"]))

    message = str(caught.value)
    assert message.startswith("data source 'demo' failed")
    assert not any(s in message for s in [*secrets, "postgresql", "sqlite", "@"])
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__

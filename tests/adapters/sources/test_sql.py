"""SqlDataSource on SQLite, PostgreSQL and MariaDB: the same customers give the same answers.

Each backend holds `source_data.customers()` (the demo's, and keys that trip
engines not comparing by code point) in tables named `src_…`, with the key and
tag columns in the collation an unwary deployment gets.
"""

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from mariadb import database_url as mariadb_database_url
from mariadb import mariadb_url, require_mariadb
from pg import database_url, fresh_database, require_postgres
from source_data import (
    LINGUISTIC,
    SPACED_TAG_KEY,
    by_key,
    customers,
    demo_dataset,
    write_tables,
)

from adapters.sources.sql import SqlDataSource
from governance.catalog import Dataset
from governance.errors import DataSourceUnavailable

__all__ = ["mariadb_url"]  # a fixture: imported so that pytest finds it here

T = TypeVar("T")
PREFIX = "src_"
CUSTOMERS = by_key()
ALL_IDS = sorted(CUSTOMERS)
BACKENDS = [
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("mariadb", marks=pytest.mark.mariadb),
]
METACHARACTERS = ["' OR '1'='1", "%", "_", "C%", "C00000_", "高消费' OR '1'='1"]


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    """The demo catalog's `customers` dataset, over this module's tables."""
    return demo_dataset(PREFIX)


@pytest.fixture(scope="module", params=BACKENDS)
def url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The URL of a store holding the customers, one per backend."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("sql-source") / "customers.db"
        made = f"sqlite+aiosqlite:///{path}"
        write_tables(made, customers(), key_collation=LINGUISTIC, prefix=PREFIX)
        yield made
    elif request.param == "postgres":
        with fresh_database() as made:
            write_tables(made, customers(), key_collation=LINGUISTIC, prefix=PREFIX)
            yield made
    else:
        made = request.getfixturevalue("mariadb_url")
        write_tables(made, customers(), key_collation=LINGUISTIC, prefix=PREFIX)
        yield made


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

    @pytest.mark.parametrize(
        ("asked", "stored"),
        [("c000042", "C000042"), ("C000042 ", "C000042"), ("D7", "D7 "), ("e1", "É1")],
    )
    def test_only_the_exact_key_matches(
        self, url: str, dataset: Dataset, asked: str, stored: str
    ) -> None:
        """An id differing from a stored key by case, spaces or accents gives None."""
        found = run(url, lambda s: s.fetch_record(dataset, stored, ["customer_id"]))

        assert found == {"customer_id": stored}
        assert run(url, lambda s: s.fetch_record(dataset, asked, ["name"])) is None

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
        start = ALL_IDS.index("C000150") + 1

        assert scan_ids(url, dataset, after="C000150", limit=20) == ALL_IDS[start:][:20]

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
        assert len(expected) < len(ALL_IDS)
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

    def test_tag_values_match_exactly(self, url: str, dataset: Dataset) -> None:
        """`高消费 ` (trailing space) and `高消费` are different tags on every engine."""
        spaced = scan_ids(url, dataset, tags_any=("高消费 ",))

        plain = scan_ids(url, dataset, tags_all=("高消费",))

        assert spaced == [SPACED_TAG_KEY]
        assert SPACED_TAG_KEY not in plain
        assert plain == expected_ids(tags_all=("高消费",))

    @pytest.mark.parametrize("value", METACHARACTERS)
    @pytest.mark.parametrize("kind", ["tags_any", "tags_all"])
    def test_metacharacters_in_tags_are_data(
        self, url: str, dataset: Dataset, kind: str, value: str
    ) -> None:
        """A tag with SQL or LIKE metacharacters matches no row."""
        assert scan_ids(url, dataset, **{kind: (value,)}) == []


def _missing_database(broken: str) -> tuple[str, list[str]]:
    """A URL of a database that cannot be opened, and the secrets it holds."""
    if broken == "postgres":
        require_postgres()
        url = database_url("gov_missing_db_0000").replace(
            "postgres@", "postgres:s3cret-pw@", 1
        )
    else:
        require_mariadb()
        url = mariadb_database_url("gov_missing_db_0000").replace(
            "root@", "root:s3cret-pw@", 1
        )
    return url, ["s3cret-pw", "gov_missing_db", "127.0.0.1"]


@pytest.mark.parametrize(
    "broken",
    [
        pytest.param("sqlite", id="sqlite-missing-dir"),
        pytest.param(
            "postgres", id="postgres-missing-database", marks=pytest.mark.postgres
        ),
        pytest.param(
            "mariadb", id="mariadb-missing-database", marks=pytest.mark.mariadb
        ),
    ],
)
def test_broken_source_raises_unavailable_without_url(
    broken: str, dataset: Dataset, tmp_path: Path
) -> None:
    """A source that cannot be opened raises DataSourceUnavailable naming no URL."""
    if broken == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'customers.db'}"
        secrets = [str(tmp_path), "customers.db"]
    else:
        url, secrets = _missing_database(broken)

    with pytest.raises(DataSourceUnavailable) as caught:
        run(url, lambda s: s.fetch_record(dataset, "C000001", ["name"]))

    message = str(caught.value)
    assert message.startswith("data source 'demo' failed")
    assert not any(
        s in message for s in [*secrets, "postgresql", "mysql", "sqlite", "@"]
    )
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__

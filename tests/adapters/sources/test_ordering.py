"""Keys differing only by case or spaces, all stored: pages and reads keep them apart.

Each backend holds `bin_` tables whose key and tag columns have the code point
collation the README recommends (SQLite `BINARY`, PostgreSQL `"C"`, MariaDB
`utf8mb4_nopad_bin`), so that `m1`, `M1` and `m1 ` can all be stored. On
MariaDB such a column is compared as it stands rather than cast, and the pages
must come out in the same order as where it is cast (`test_sql`).
"""

import asyncio
from collections.abc import Iterator
from dataclasses import replace

import pytest
from mariadb import mariadb_url
from pg import fresh_database
from source_data import BINARY, customers, demo_dataset, write_tables

from adapters.sources.sql import SqlDataSource
from governance.catalog import Dataset
from governance.demo.dataset import Customer

__all__ = ["mariadb_url"]  # a fixture: imported so that pytest finds it here

PREFIX = "bin_"
VARIANTS = ("m1", "M1", "m1 ", "M1 ", " m1", "M 1", "M10", "m2", "ḿ1", "M1-", "M1_")
ROWS: tuple[Customer, ...] = tuple(
    replace(c, customer_id=key, nickname=f"昵称{i}")
    for i, (key, c) in enumerate(zip(VARIANTS, customers(), strict=False))
)
BACKENDS = [
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("mariadb", marks=pytest.mark.mariadb),
]


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    """The demo catalog's `customers` dataset, over this module's tables."""
    return demo_dataset(PREFIX)


@pytest.fixture(scope="module", params=BACKENDS)
def url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The URL of a store holding `ROWS` with binary key columns, one per backend."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("ordering") / "customers.db"
        made = f"sqlite+aiosqlite:///{path}"
        write_tables(made, ROWS, key_collation=BINARY, prefix=PREFIX)
        yield made
    elif request.param == "postgres":
        with fresh_database() as made:
            write_tables(made, ROWS, key_collation=BINARY, prefix=PREFIX)
            yield made
    else:
        made = request.getfixturevalue("mariadb_url")
        write_tables(made, ROWS, key_collation=BINARY, prefix=PREFIX)
        yield made


def test_pages_of_two_hold_every_variant_once_in_code_point_order(
    url: str, dataset: Dataset
) -> None:
    """Paging two at a time returns each variant once, in Python's sorted order."""

    async def page_through() -> list[list[str]]:
        source = SqlDataSource.from_urls({"demo": url})
        pages: list[list[str]] = []
        after = None
        try:
            while not pages or len(pages[-1]) == 2:
                rows = await source.scan(
                    dataset,
                    columns=["customer_id"],
                    tags_any=[],
                    tags_all=[],
                    after=after,
                    limit=2,
                )
                pages.append([r["customer_id"] for r in rows])
                after = pages[-1][-1] if rows else after
        finally:
            await source.close()
        return pages

    pages = asyncio.run(page_through())

    assert [k for page in pages for k in page] == sorted(VARIANTS)
    assert len(pages) == len(VARIANTS) // 2 + 1


def test_each_variant_reads_its_own_row(url: str, dataset: Dataset) -> None:
    """Every variant's read returns that variant's row and no other."""

    async def read_all() -> list[dict[str, object] | None]:
        source = SqlDataSource.from_urls({"demo": url})
        try:
            return [
                await source.fetch_record(dataset, c.customer_id, ["nickname"])
                for c in ROWS
            ]
        finally:
            await source.close()

    found = asyncio.run(read_all())

    assert found == [{"nickname": c.nickname} for c in ROWS]

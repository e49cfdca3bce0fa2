"""A tag belongs to the subject whose key it names by code point, on every engine.

The tables here have the collations an unwary deployment gets (SQLite `NOCASE`,
MariaDB's default `utf8mb4_general_ci`): case-folding, and on MariaDB
space-padding. Tag rows whose owner is `c2` or `C3 ` belong to no customer, but
such a collation joins them to `C2` and `C3`; a 孕期 row so joined would target
the wrong person as pregnant. PostgreSQL's deterministic collations cannot store
the rows (their foreign key finds no customer), so it has no case here.
"""

import asyncio
from dataclasses import replace

import pytest
from mariadb import mariadb_url
from source_data import LINGUISTIC, customers, demo_dataset, engine_of, write_tables
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from adapters.sources.sql import SqlDataSource
from governance.catalog import Dataset
from governance.demo.dataset import Customer

__all__ = ["mariadb_url"]  # a fixture: imported so that pytest finds it here

PREFIX = "owner_"
TAG = "母婴"
ROWS: tuple[Customer, ...] = tuple(
    replace(c, customer_id=key, tags=(TAG,) if key == "C1" else ())
    for key, c in zip(("C1", "C2", "C3"), customers(), strict=False)
)
LOOKALIKE_OWNERS = ("c2", "C3 ")


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    """The demo catalog's `customers` dataset, over this module's tables."""
    return demo_dataset(PREFIX)


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)],
)
def url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """A store of `ROWS`, plus tag rows of owners that only a folding collation
    takes for a customer."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("owner") / "customers.db"
        made = f"sqlite+aiosqlite:///{path}"
    else:
        made = request.getfixturevalue("mariadb_url")
    write_tables(made, ROWS, key_collation=LINGUISTIC, prefix=PREFIX)

    async def add_lookalikes() -> None:
        args = {"charset": "utf8mb4"} if engine_of(made) == "mysql" else {}
        engine = create_async_engine(made, connect_args=args)
        try:
            async with engine.begin() as conn:
                for owner in LOOKALIKE_OWNERS:
                    await conn.execute(
                        text(
                            f"INSERT INTO {PREFIX}customer_tags (customer_id, tag)"  # noqa: S608 - a constant
                            " VALUES (:owner, :tag)"
                        ),
                        {"owner": owner, "tag": TAG},
                    )
        finally:
            await engine.dispose()

    asyncio.run(add_lookalikes())
    return made


@pytest.mark.parametrize("how", ["tags_any", "tags_all"])
def test_a_tag_row_of_a_lookalike_key_selects_nobody(
    url: str, dataset: Dataset, how: str
) -> None:
    """Only C1 carries 母婴; the rows of `c2` and `C3 ` lend it to no one."""

    async def scan() -> list[str]:
        source = SqlDataSource.from_urls({"demo": url})
        try:
            rows = await source.scan(
                dataset,
                columns=["customer_id"],
                tags_any=[TAG] if how == "tags_any" else [],
                tags_all=[TAG] if how == "tags_all" else [],
                after=None,
                limit=10,
            )
        finally:
            await source.close()
        return [r["customer_id"] for r in rows]

    assert asyncio.run(scan()) == ["C1"]

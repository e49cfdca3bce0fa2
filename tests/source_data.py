"""The customers the source tests load into SQLite, PostgreSQL and MariaDB alike.

`customers()` is the demo generator's output (Faker zh_CN, `SEED`, `COUNT`
people, `C000001` up) followed by customers whose keys trip an engine that does
not compare by code point: lower and upper case, mixed lengths, punctuation,
a trailing space, accents, Chinese and a four-byte character. One of them
carries the tag `高消费 ` (trailing space), which is not the catalog's `高消费`,
and one has a nickname with 𠮷 in it.

`write_tables(url, rows, key_collation=...)` creates the demo's `customers` and
`customer_tags` tables at `url` with one DDL for every engine (only the
collation of the key and tag columns differs) and a `slow_customers` view that
takes far longer than any statement bound, then inserts the rows. Every name
starts with `prefix`, so that test modules can share the session's MariaDB
database.
`LINGUISTIC` names the collations an unwary deployment gets (SQLite NOCASE,
an ICU locale on PostgreSQL, MariaDB's default `utf8mb4_general_ci`);
`BINARY` the code point ones the README recommends.
"""

import asyncio
import functools
from collections.abc import Mapping, Sequence
from dataclasses import fields, replace
from importlib import resources
from pathlib import Path

from sqlalchemy import (
    Column,
    Date,
    ForeignKeyConstraint,
    MetaData,
    String,
    Table,
    Text,
    insert,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from governance.catalog import Dataset, load_catalog
from governance.demo.dataset import Customer, generate_customers

SEED = 7
COUNT = 200
ODD_KEYS = (
    "a1",
    "A10",
    "B2",
    "c1",
    "C00004",
    "C0000420",
    "C000042-1",
    "C000042 1",
    "D7 ",
    "É1",
    "E2",
    "张三01",
    "𠮷01",
)
SPACED_TAG_KEY = "E2"
"""Carries `高消费 ` with a trailing space, so no `高消费` query may return it."""
NICKNAME_KEY = "𠮷01"
NICKNAME = "吉野家的𠮷🍜"

LINGUISTIC = {
    "sqlite": "NOCASE",
    "postgresql": "und-x-icu",
    "mysql": "utf8mb4_general_ci",
}
BINARY = {"sqlite": "BINARY", "postgresql": "C", "mysql": "utf8mb4_nopad_bin"}

_SLOW_VIEW = {
    "sqlite": "CREATE VIEW {p}slow_customers AS WITH RECURSIVE n(i) AS"
    " (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000000)"
    " SELECT c.* FROM {p}customers c WHERE (SELECT count(*) FROM n) > 0",
    "postgresql": "CREATE VIEW {p}slow_customers AS"
    " SELECT c.* FROM {p}customers c, (SELECT pg_sleep(60)) AS s",
    "mysql": "CREATE VIEW {p}slow_customers AS SELECT c.* FROM {p}customers c"
    " WHERE (SELECT BENCHMARK(1000000000, MD5('x'))) = 0",
}
_COLUMNS = tuple(f.name for f in fields(Customer) if f.name != "tags")


@functools.cache
def customers() -> tuple[Customer, ...]:
    """The demo customers, then one customer per key of `ODD_KEYS`."""
    made = generate_customers(seed=SEED, count=COUNT + len(ODD_KEYS))
    odd = []
    for key, c in zip(ODD_KEYS, made[COUNT:], strict=True):
        tags = ("高消费 ",) if key == SPACED_TAG_KEY else c.tags
        nickname = NICKNAME if key == NICKNAME_KEY else c.nickname
        odd.append(replace(c, customer_id=key, tags=tags, nickname=nickname))
    return (*made[:COUNT], *odd)


def by_key() -> dict[str, Customer]:
    """`customers()` by customer id."""
    return {c.customer_id: c for c in customers()}


def engine_of(url: str) -> str:
    """`sqlite`, `postgresql` or `mysql`: the family of the engine at `url`."""
    backend = make_url(url).get_backend_name()
    return "mysql" if backend == "mariadb" else backend


def write_tables(
    url: str,
    rows: Sequence[Customer],
    *,
    key_collation: Mapping[str, str],
    prefix: str = "",
) -> None:
    """Create the customer tables (names prefixed) at `url` and insert `rows`."""
    engine_name = engine_of(url)
    collation = key_collation[engine_name]
    meta = MetaData()
    key = functools.partial(String, 64, collation=collation)
    people = Table(
        f"{prefix}customers",
        meta,
        Column("customer_id", key(), primary_key=True),
        *[Column(c, Text, nullable=False) for c in _COLUMNS[1:] if c != "birth_date"],
        Column("birth_date", Date, nullable=False),
    )
    tags = Table(
        f"{prefix}customer_tags",
        meta,
        Column("customer_id", key(), primary_key=True),
        Column("tag", key(), primary_key=True),
        ForeignKeyConstraint(["customer_id"], [people.c.customer_id]),
    )

    async def write() -> None:
        args = {"charset": "utf8mb4"} if engine_name == "mysql" else {}
        engine = create_async_engine(url, connect_args=args)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(meta.create_all)
                await conn.execute(
                    insert(people), [{k: getattr(c, k) for k in _COLUMNS} for c in rows]
                )
                await conn.execute(
                    insert(tags),
                    [
                        {"customer_id": c.customer_id, "tag": t}
                        for c in rows
                        for t in c.tags
                    ],
                )
                await conn.execute(text(_SLOW_VIEW[engine_name].format(p=prefix)))
        finally:
            await engine.dispose()

    asyncio.run(write())


def demo_dataset(prefix: str) -> Dataset:
    """The demo catalog's `customers` dataset, over the tables `write_tables`
    made with `prefix`."""
    path = Path(str(resources.files("governance.demo").joinpath("catalog.yaml")))
    demo = load_catalog(path).dataset("customers")
    assert demo.tags is not None
    return replace(
        demo,
        table=f"{prefix}customers",
        tags=replace(demo.tags, table=f"{prefix}customer_tags"),
    )

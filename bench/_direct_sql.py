"""The baseline: the rows a governed read returns, read by key in this process, one at a time.

No HTTP and no governance: sqlite3 on the demo's file, asyncpg on one
connection to the PostgreSQL copy. This process stands in for the server in
the row's CPU figures.
"""

import os
import random
import sqlite3
import time
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path

import asyncpg
from _demo import RECORD_FIELDS
from _load_report import Row
from _pg import dsn
from _servers import Meter

_COLUMNS = ", ".join(RECORD_FIELDS)
_SQLITE = f"SELECT {_COLUMNS} FROM customers WHERE customer_id = ?"  # noqa: S608
_PG = f"SELECT {_COLUMNS} FROM customers WHERE customer_id = $1"  # noqa: S608


def quantile(samples: list[float], q: float) -> float:
    """The `q` quantile of `samples` (seconds), in ms; 0 without samples."""
    ordered = sorted(samples)
    return (
        ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0.0
    )


def direct_sqlite(
    db: Path, store: str, ids: Sequence[str], seconds: float, warmup: float
) -> Row:
    """sqlite3 reads by key of random `ids`, one at a time, for `seconds`."""
    with closing(sqlite3.connect(db)) as conn:

        def read() -> None:
            conn.execute(_SQLITE, (random.choice(ids),)).fetchone()

        end = time.perf_counter() + warmup
        while time.perf_counter() < end:
            read()
        lat: list[float] = []
        meter, start = _self_meter(postgres=False), time.perf_counter()
        end = start + seconds
        while (t := time.perf_counter()) < end:
            read()
            lat.append(time.perf_counter() - t)
    return _row("direct SQL (sqlite3, by key)", store, lat, start, meter)


async def direct_pg(url: str, ids: Sequence[str], seconds: float, warmup: float) -> Row:
    """asyncpg reads by key of random `ids` on one connection, one at a time."""
    conn = await asyncpg.connect(dsn(url))
    try:
        end = time.perf_counter() + warmup
        while time.perf_counter() < end:
            await conn.fetchrow(_PG, random.choice(ids))
        lat: list[float] = []
        meter, start = _self_meter(postgres=True), time.perf_counter()
        end = start + seconds
        while (t := time.perf_counter()) < end:
            await conn.fetchrow(_PG, random.choice(ids))
            lat.append(time.perf_counter() - t)
    finally:
        await conn.close()
    return _row("direct SQL (asyncpg, by key)", "postgres", lat, start, meter)


def _self_meter(*, postgres: bool) -> Meter:
    return Meter(lambda: [os.getpid()], postgres=postgres).start()


def _row(what: str, store: str, lat: list[float], start: float, meter: Meter) -> Row:
    usage, elapsed = meter.usage(), time.perf_counter() - start
    row = Row(
        what,
        store,
        None,
        "1 at a time, in process",
        len(lat) / elapsed,
        quantile(lat, 0.5),
        quantile(lat, 0.99),
        0,
        len(lat),
        usage,
    )
    print(row.markdown(), flush=True)
    return row

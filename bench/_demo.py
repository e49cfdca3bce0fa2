"""The demo deployment for the HTTP benches, on SQLite or on PostgreSQL.

`prepare_demo` (as `govproxy demo --no-serve` runs it) builds the SQLite
deployment. `prepare_pg_demo` builds the same deployment with the governance
store and the customer source on PostgreSQL: the same customers (copied from
the SQLite demo's file), and the same seed, so the same consents.
"""

import asyncio
import shutil
import socket
import sqlite3
import time
from contextlib import closing
from datetime import date
from importlib import resources
from pathlib import Path

from _pg import connect

from governance.demo.setup import DemoDeployment, prepare_demo

SEED = 2026
SMS_CALLER = "campaign-sms"  # may read for marketing_push only
RECORD_FIELDS = ("customer_id", "name", "nickname", "mobile", "email")
"""The fields a marketing_push read returns (the rest are withheld)."""
_SQLITE_SOURCE = "url: sqlite+aiosqlite:///customers.db"
_CUSTOMER_COLUMNS = (
    "customer_id",
    "name",
    "nickname",
    "mobile",
    "id_number",
    "email",
    "address",
    "birth_date",
    "bank_card",
    "service_note",
)
# As the demo's SQLite store, with code point order on the keys (README: Data sources).
_PG_TABLES = """
CREATE TABLE customers (
    customer_id TEXT COLLATE "C" PRIMARY KEY,
    name TEXT NOT NULL,
    nickname TEXT NOT NULL,
    mobile TEXT NOT NULL,
    id_number TEXT NOT NULL,
    email TEXT NOT NULL,
    address TEXT NOT NULL,
    birth_date DATE NOT NULL,
    bank_card TEXT NOT NULL,
    service_note TEXT NOT NULL
);
CREATE TABLE customer_tags (
    customer_id TEXT COLLATE "C" NOT NULL REFERENCES customers (customer_id),
    tag TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (customer_id, tag)
);
CREATE INDEX customer_tags_by_tag ON customer_tags (tag, customer_id);
"""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(port: int, timeout_s: float = 30.0) -> None:
    """Return once 127.0.0.1:`port` accepts connections; SystemExit after `timeout_s`."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        try:
            with closing(socket.create_connection(("127.0.0.1", port), timeout=0.2)):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on port {port} after {timeout_s:.0f} s")


def consented_adults(data_dir: Path) -> list[str]:
    """Adults whose marketing_push consent holds: granted, on the current notice.

    Reads the SQLite demo under `data_dir`; a PostgreSQL demo built by
    `prepare_pg_demo` from it has the same ones.
    """
    with closing(sqlite3.connect(data_dir / "governance.db")) as conn:
        granted = {
            r[0]
            for r in conn.execute(
                "SELECT subject_id FROM consent_current WHERE purpose = 'marketing_push'"
                " AND action = 'granted' AND notice_version = '2026.01'"
            )
        }
    with closing(sqlite3.connect(data_dir / "customers.db")) as conn:
        adults = {
            r[0]
            for r in conn.execute(
                "SELECT customer_id FROM customers WHERE birth_date < '2008-01-01'"
            )
        }
    return sorted(granted & adults)


def key_of(deployment: DemoDeployment, caller: str = SMS_CALLER) -> str:
    """The API key of a demo caller."""
    return str(next(c["key"] for c in deployment.credentials if c["name"] == caller))


def prepare_sqlite_demo(data_dir: Path, customers: int) -> DemoDeployment:
    """The demo deployment as `govproxy demo --no-serve` builds it."""
    return prepare_demo(
        data_dir, seed=SEED, customers=customers, port=8080, host="127.0.0.1"
    )


def prepare_pg_demo(
    data_dir: Path, sqlite_demo: Path, *, store_url: str, crm_url: str, customers: int
) -> DemoDeployment:
    """The SQLite demo's deployment with its store at `store_url`, customers at `crm_url`.

    Both are empty PostgreSQL databases; the customers are copied from
    `sqlite_demo`'s file.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(sqlite_demo / "customers.db", data_dir / "customers.db")
    catalog = resources.files("governance.demo").joinpath("catalog.yaml")
    text = catalog.read_text("utf-8")
    if _SQLITE_SOURCE not in text:
        raise SystemExit(
            "the demo catalog no longer names its SQLite source as expected"
        )
    (data_dir / "catalog.yaml").write_text(
        text.replace(_SQLITE_SOURCE, f"url: {crm_url}"), encoding="utf-8"
    )
    (data_dir / "govproxy.yaml").write_text(
        f"catalog_file: catalog.yaml\nstore_url: {store_url}\n"
        "keys_file: keys.json\nlog_format: json\n",
        encoding="utf-8",
    )
    asyncio.run(_copy_customers(data_dir / "customers.db", crm_url))
    return prepare_demo(
        data_dir, seed=SEED, customers=customers, port=8080, host="127.0.0.1"
    )


async def _copy_customers(db: Path, url: str) -> None:
    with closing(sqlite3.connect(db)) as src:
        cols = ", ".join(_CUSTOMER_COLUMNS)
        rows = [
            (*r[:7], date.fromisoformat(r[7]), *r[8:])
            for r in src.execute(f"SELECT {cols} FROM customers")  # noqa: S608 - constants
        ]
        tags = src.execute("SELECT customer_id, tag FROM customer_tags").fetchall()
    conn = await connect(url)
    try:
        async with conn.transaction():
            await conn.execute(_PG_TABLES)
            await conn.copy_records_to_table(
                "customers", records=rows, columns=_CUSTOMER_COLUMNS
            )
            await conn.copy_records_to_table(
                "customer_tags", records=tags, columns=("customer_id", "tag")
            )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()

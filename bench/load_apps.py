"""The apps the load bench serves on uvicorn beside the proxy.

- `noop`: a raw ASGI app that answers every request 200 with `NOOP_BODY`,
  the floor of any Python endpoint on uvicorn.
- `ungoverned()`: what a brand would write without the proxy: FastAPI,
  `GET /customers/{customer_id}` reads the columns a governed marketing_push
  read returns, by key, with the driver the proxy uses for the same store:
  sqlite3 on the event loop (`BENCH_SQLITE=<file>`) or an asyncpg pool of
  `POOL` connections (`BENCH_PG_DSN=<dsn>`). No authentication, consent,
  policy, masking or audit. With `BENCH_SOURCE_URL=<SQLAlchemy URL>` it reads
  through the engine the proxy builds for a data source instead
  (`adapters.sources.engines`: SQLAlchemy Core, its pool and pre-ping), which
  tells the data-access layer's cost from governance's.
- the same app with `BENCH_DUTIES=<governance store>`: what a brand would
  write to meet the same duties by hand (issue #7's 60% comparison, made like
  for like): before the record it reads the subject's `marketing_push` row
  of `consent_current` from the proxy's store (403 unless granted and not
  expired), and after it appends an access-log row and commits it durably,
  one commit per request (SQLite: `BENCH_ACCESS_LOG=<file>`, WAL with
  synchronous=FULL, as the proxy's store; PostgreSQL: a table in the source
  database, synchronous_commit on). No authentication, policy, masking or
  hash chain.

Served as `uvicorn --app-dir bench load_apps:noop` and
`uvicorn --app-dir bench --factory load_apps:ungoverned`.
"""

import json
import os
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg
from fastapi import FastAPI, HTTPException
from sqlalchemy import text

from adapters.sources.engines import DEFAULT_TIMEOUTS, create_source_engine

NOOP_BODY = json.dumps(
    {
        "dataset": "customers",
        "subject_id": "C000002",
        "record": {
            "customer_id": "C000002",
            "name": "沈*",
            "nickname": "快乐的桂兰",
            "mobile": "17200000000",
            "email": "q***@mail.example",
        },
        "decision_id": "00000000-0000-0000-0000-000000000000",
    },
    ensure_ascii=False,
).encode()
"""A body the size and shape of a governed read's answer; nginx serves it as a file."""
POOL = 16
_COLUMNS = "customer_id, name, nickname, mobile, email"
_SQLITE_READ = f"SELECT {_COLUMNS} FROM customers WHERE customer_id = ?"  # noqa: S608
_PG_READ = f"SELECT {_COLUMNS} FROM customers WHERE customer_id = $1"  # noqa: S608
_CONSENT = (
    "SELECT action, expires_at FROM consent_current"
    " WHERE subject_id = {} AND purpose = 'marketing_push'"
)
_LOG_TABLE = (
    "CREATE TABLE IF NOT EXISTS bench_access_log (at TEXT NOT NULL,"
    " subject_id TEXT NOT NULL, purpose TEXT NOT NULL, outcome TEXT NOT NULL)"
)
_LOG = "INSERT INTO bench_access_log VALUES ({}, {}, 'marketing_push', {})"
_HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", str(len(NOOP_BODY)).encode()),
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]


async def noop(
    scope: Scope,
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    """Answer 200 with `NOOP_BODY`; accept the lifespan protocol."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": NOOP_BODY})


def ungoverned() -> FastAPI:
    """The ungoverned read endpoint on the store the environment names."""
    chosen = {k: os.environ[k] for k in _STORES if k in os.environ}
    if len(chosen) != 1:
        raise SystemExit(f"set exactly one of {', '.join(_STORES)}")
    [(kind, where)] = chosen.items()
    if "BENCH_DUTIES" in os.environ:
        duties = {"BENCH_SQLITE": _sqlite_duties_app, "BENCH_PG_DSN": _pg_duties_app}
        return duties[kind](where, os.environ["BENCH_DUTIES"])
    return _STORES[kind](where)


def _granted(row: Any) -> bool:
    """A `consent_current` row that allows the read: granted, not expired."""
    if row is None or row[0] != "granted":
        return False
    expires = row[1]
    if isinstance(expires, str):
        expires = datetime.fromisoformat(expires).replace(tzinfo=UTC)
    return expires is None or expires > datetime.now(UTC)


def _sqlite_duties_app(path: str, store: str) -> FastAPI:
    conn = sqlite3.connect(path, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    consent = sqlite3.connect(
        f"file:{store}?mode=ro", uri=True, check_same_thread=False
    )
    log = sqlite3.connect(
        os.environ["BENCH_ACCESS_LOG"], isolation_level=None, check_same_thread=False
    )
    for pragma in ("journal_mode=WAL", "synchronous=FULL"):
        log.execute(f"PRAGMA {pragma}")
    log.execute(_LOG_TABLE)
    insert = _LOG.format("?", "?", "?")
    consent_sql = _CONSENT.format("?")
    app = FastAPI()

    @app.get("/customers/{customer_id}")
    async def read(customer_id: str) -> dict[str, Any]:
        allowed = _granted(consent.execute(consent_sql, (customer_id,)).fetchone())
        row = conn.execute(_SQLITE_READ, (customer_id,)).fetchone() if allowed else None
        at = datetime.now(UTC).isoformat()
        outcome = "allowed" if row is not None else "denied"
        log.execute("BEGIN IMMEDIATE")
        log.execute(insert, (at, customer_id, outcome))
        log.execute("COMMIT")
        if row is None:
            raise HTTPException(403 if not allowed else 404)
        return dict(row)

    return app


def _pg_duties_app(dsn: str, store: str) -> FastAPI:
    pools: dict[str, asyncpg.Pool] = {}
    insert = _LOG.format("$1", "$2", "$3")
    consent_sql = _CONSENT.format("$1")

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        pools["crm"] = await asyncpg.create_pool(dsn, min_size=POOL, max_size=POOL)
        pools["store"] = await asyncpg.create_pool(store, min_size=POOL, max_size=POOL)
        await pools["crm"].execute(_LOG_TABLE)
        yield
        for pool in pools.values():
            await pool.close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/customers/{customer_id}")
    async def read(customer_id: str) -> dict[str, Any]:
        allowed = _granted(await pools["store"].fetchrow(consent_sql, customer_id))
        row = await pools["crm"].fetchrow(_PG_READ, customer_id) if allowed else None
        outcome = "allowed" if row is not None else "denied"
        await pools["crm"].execute(
            insert, datetime.now(UTC).isoformat(), customer_id, outcome
        )
        if row is None:
            raise HTTPException(403 if not allowed else 404)
        return dict(row)

    return app


def _sqlite_app(path: str) -> FastAPI:
    conn = sqlite3.connect(path, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    app = FastAPI()

    @app.get("/customers/{customer_id}")
    async def read(customer_id: str) -> dict[str, Any]:
        row = conn.execute(_SQLITE_READ, (customer_id,)).fetchone()
        if row is None:
            raise HTTPException(404)
        return dict(row)

    return app


def _pg_app(dsn: str) -> FastAPI:
    pools: list[asyncpg.Pool] = []

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        pools.append(await asyncpg.create_pool(dsn, min_size=POOL, max_size=POOL))
        yield
        await pools[0].close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/customers/{customer_id}")
    async def read(customer_id: str) -> dict[str, Any]:
        row = await pools[0].fetchrow(_PG_READ, customer_id)
        if row is None:
            raise HTTPException(404)
        return dict(row)

    return app


def _engine_app(url: str) -> FastAPI:
    engine = create_source_engine(url, DEFAULT_TIMEOUTS)
    stmt = text(_SQLITE_READ.replace("?", ":customer_id"))
    app = FastAPI()

    @app.get("/customers/{customer_id}")
    async def read(customer_id: str) -> dict[str, Any]:
        async with engine.connect() as conn:
            row = (await conn.execute(stmt, {"customer_id": customer_id})).first()
        if row is None:
            raise HTTPException(404)
        return dict(row._mapping)

    return app


_STORES: dict[str, Callable[[str], FastAPI]] = {
    "BENCH_SQLITE": _sqlite_app,
    "BENCH_PG_DSN": _pg_app,
    "BENCH_SOURCE_URL": _engine_app,
}

"""Hand-built audit trails: drafts linked into one chain and inserted in bulk.

Lets a test say exactly which events exist (instants, callers, fields and
obligations) without serving requests; the rows are linked with
`audit.chain.link`, so the trail verifies like one a writer made.
"""

import asyncio
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from pg import fresh_database
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from audit.chain import genesis_hash, link
from audit.models import AuditChain, AuditEventRow, AuditSubjectRow
from audit.record import SUBJECT_REFS, AuditDraft
from governance.store import open_store

T = TypeVar("T")
CHAIN = "c" * 32
COLUMNS = tuple(AuditEventRow.model_fields)
READ_FIELDS = ("customer_id", "name", "mobile", "id_number")
READ_OBLIGATIONS = {
    "customer_id": "keep",
    "name": "mask",
    "mobile": "keep",
    "id_number": "withhold",
}


def at(day: int, second: int = 0) -> str:
    """An instant of March 2026 in the trail's fixed-width form."""
    return f"2026-03-{day:02d}T08:00:{second:02d}.000000Z"


def read(ref: str, ts: str, **overrides: Any) -> AuditDraft:
    """An allowed read of subject `ref` by campaign-sms: id and mobile kept, name masked."""
    values: dict[str, Any] = {
        "kind": "access.read",
        "outcome": "allowed",
        "caller": "campaign-sms",
        "purpose": "marketing_push",
        "dataset": "customers",
        "subject_ref": ref,
        "fields": READ_FIELDS,
        "obligations": READ_OBLIGATIONS,
        "ts": ts,
    }
    return AuditDraft(**(values | overrides))


def query(refs: Sequence[str], ts: str, **overrides: Any) -> AuditDraft:
    """An allowed audience query by campaign-sms releasing `refs`: id and mobile kept."""
    values: dict[str, Any] = {
        "kind": "access.query",
        "outcome": "allowed",
        "caller": "campaign-sms",
        "purpose": "marketing_push",
        "dataset": "customers",
        "fields": ("customer_id", "mobile"),
        "obligations": {"customer_id": "keep", "mobile": "keep"},
        "detail": {SUBJECT_REFS: list(refs), "excluded": {}},
        "ts": ts,
    }
    return AuditDraft(**(values | overrides))


def linked(drafts: Sequence[AuditDraft], chain: str = CHAIN) -> list[dict[str, Any]]:
    """The stored rows of `drafts`, chained in order."""
    rows, head = [], genesis_hash(chain)
    for seq, draft in enumerate(drafts, start=1):
        row = link(draft, chain_id=chain, seq=seq, prev_hash=head)
        head = row["hash"]
        rows.append(row)
    return rows


async def insert_trail(
    store: AsyncEngine, drafts: Sequence[AuditDraft], chain: str = CHAIN
) -> list[dict[str, Any]]:
    """Store `drafts` as one chain, with its head and subject index; return the rows."""
    rows = linked(drafts, chain)
    subjects = [
        {"subject_ref": ref, "ts": d.ts, "chain_id": chain, "seq": r["seq"]}
        for d, r in zip(drafts, rows, strict=True)
        for ref in d.detail.get(SUBJECT_REFS, ())
    ]
    await insert_rows(store, rows)
    async with store.begin() as conn:
        if subjects:
            await conn.execute(insert(AuditSubjectRow), subjects)
        await conn.execute(
            insert(AuditChain).values(
                chain_id=chain,
                writer="tests",
                started_at=rows[0]["ts"] if rows else at(1),
                head_seq=len(rows),
                head_hash=rows[-1]["hash"] if rows else genesis_hash(chain),
            )
        )
    return rows


async def insert_rows(store: AsyncEngine, rows: Sequence[dict[str, Any]]) -> None:
    """Insert stored event rows as they are, through the driver (fast for many rows)."""
    marks = {
        "qmark": ", ".join("?" * len(COLUMNS)),
        "numeric_dollar": ", ".join(f"${i}" for i in range(1, len(COLUMNS) + 1)),
    }[store.dialect.paramstyle]
    sql = f"INSERT INTO audit_events ({', '.join(COLUMNS)}) VALUES ({marks})"  # noqa: S608 - model columns; values bound
    async with store.begin() as conn:
        await conn.exec_driver_sql(sql, [tuple(r[c] for c in COLUMNS) for r in rows])


def on_store(url: str, body: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    """Run `body` against the store at `url` (tables created), then close it."""

    async def scenario() -> T:
        store = await open_store(url)
        try:
            return await body(store)
        finally:
            await store.dispose()

    return asyncio.run(scenario())


@contextmanager
def store_url(kind: str, folder: Path) -> Iterator[str]:
    """A fresh governance store URL: SQLite in `folder`, or a new PostgreSQL database."""
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{folder / 'governance.db'}"
        return
    with fresh_database() as url:
        yield url

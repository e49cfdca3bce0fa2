"""`consent_current` always says what the ledger says, on SQLite and PostgreSQL.

The projection is kept by a database trigger; these tests write events the way
the proxy does (and the way a bulk load does) and compare every pair's current
state with the state derived from its full history.
"""

import asyncio
import random
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from pg import pg_url
from sqlalchemy import insert, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.pg_states import PgStateReader
from adapters.sql.sqlite_states import SqliteStateReader
from governance.consent.ledger import (
    PERSONALISATION,
    ConsentAction,
    ConsentChange,
    ConsentLedger,
    SqlStateReader,
)
from governance.consent.models import ConsentEvent, bulk_append
from governance.errors import StoreUnavailable
from governance.store import open_store
from governance.types import ConsentState

__all__ = ["pg_url"]  # fixture: imported so that pytest finds it

# After every event the tests record (they carry the real time), so the history
# as of NOW is the whole history.
NOW = datetime.now(UTC) + timedelta(hours=1)
LATER = datetime(2031, 1, 2, 8, 0, tzinfo=timezone(timedelta(hours=8)))  # whole second
SUBJECTS = ("C0000001", "C0000002", "C0000003")
PURPOSES = ("marketing_push", "analytics", PERSONALISATION)
ACTIONS = (
    ConsentAction.GRANTED,
    ConsentAction.WITHDRAWN,
    ConsentAction.EXPIRED,
    ConsentAction.SUPERSEDED,
)


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty governance store on each backend."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'governance.db'}"
    else:
        yield request.getfixturevalue("pg_url")


def change(rng: random.Random, subject: str, purpose: str) -> ConsentChange:
    """A random event for one pair, with what each action carries."""
    if purpose == PERSONALISATION:
        action = rng.choice((ConsentAction.OPTED_OUT, ConsentAction.OPTED_IN))
    else:
        action = rng.choice(ACTIONS)
    return ConsentChange(
        subject_id=subject,
        purpose=purpose,
        action=action,
        notice_version=rng.choice(("2025.06", "2026.01")),
        method="click",
        channel="app",
        recorded_by="test",
        scope=tuple(rng.sample(("contact.phone", "identity.name"), rng.randint(0, 2))),
        kind=rng.choice(("general", "separate")),
        expires_at=rng.choice(
            (None, NOW - timedelta(days=1), NOW + timedelta(days=9), LATER)
        ),
    )


def app_reader(url: str) -> PgStateReader | SqliteStateReader:
    """The lean state reader the app builds for this store."""
    if url.startswith("postgresql"):
        return PgStateReader.for_url(url)
    return SqliteStateReader.for_url(url)


async def write(engine: AsyncEngine, changes: list[ConsentChange]) -> None:
    """Commit `changes` in one transaction, as the API and the import do."""
    async with engine.begin() as conn:
        for item in changes:
            await conn.execute(item.statement()[2])


async def expected(ledger: ConsentLedger, subject: str, purpose: str) -> ConsentState:
    """The state the full history gives, ignoring the projection."""
    record, _ = await ledger.as_of(subject, purpose, NOW)
    return record.state


async def assert_matches_history(ledger: ConsentLedger) -> None:
    for purpose in PURPOSES[:2]:
        records, _ = await ledger.lookup(list(SUBJECTS), purpose, now=NOW)
        for subject in SUBJECTS:
            want = await expected(ledger, subject, purpose)
            current = await ledger.current(subject, purpose, now=NOW)
            assert (records[subject].state, current.state) == (want, want)
    _, opted = await ledger.lookup(list(SUBJECTS), None, now=NOW, opt_out=True)
    for subject in SUBJECTS:
        history = await ledger.history(subject, purpose=PERSONALISATION)
        assert (subject in opted) == (
            bool(history) and history[-1].action == ConsentAction.OPTED_OUT
        )


def test_after_every_commit_the_current_state_is_the_one_the_history_gives(
    store_url: str,
) -> None:
    """400 random events in 40 transactions, checked after each commit.

    Decisions read through the reader the app uses on each backend, so a commit
    is seen by the very next read.
    """
    rng = random.Random(11)

    async def run() -> None:
        engine = await open_store(store_url)
        reader = app_reader(store_url)
        ledger = ConsentLedger(engine, reader)
        try:
            for _ in range(40):
                batch = [
                    change(rng, rng.choice(SUBJECTS), rng.choice(PURPOSES))
                    for _ in range(10)
                ]
                await write(engine, batch)
                await assert_matches_history(ledger)
        finally:
            await reader.close()
            await engine.dispose()

    asyncio.run(run())


def test_a_store_made_before_the_projection_is_filled_on_the_next_start(
    store_url: str,
) -> None:
    """Upgrade path: events written with no trigger are projected when the store opens."""
    rng = random.Random(5)

    async def run() -> None:
        engine = await open_store(store_url)
        async with engine.begin() as conn:  # as a store of the previous release
            on = " ON consent_events" if engine.dialect.name == "postgresql" else ""
            await conn.execute(text(f"DROP TRIGGER consent_current_follows{on}"))
            await conn.execute(text("DROP TABLE consent_current"))
        await write(
            engine,
            [change(rng, s, p) for s in SUBJECTS for p in PURPOSES for _ in range(3)],
        )
        await engine.dispose()
        engine = await open_store(store_url)
        try:
            await assert_matches_history(ConsentLedger(engine))
            await write(engine, [change(rng, SUBJECTS[0], PURPOSES[0])])
            await assert_matches_history(ConsentLedger(engine))
        finally:
            await engine.dispose()

    asyncio.run(run())


@pytest.mark.postgres
def test_racing_transactions_end_on_the_event_with_the_highest_ledger_id(
    pg_url: str,
) -> None:
    """Sixteen writers for one pair, each holding its transaction open a random while."""
    rng = random.Random(3)

    async def one(engine: AsyncEngine, action: ConsentAction) -> None:
        async with engine.begin() as conn:
            item = replace(change(rng, SUBJECTS[0], "marketing_push"), action=action)
            await conn.execute(item.statement()[2])
            await asyncio.sleep(rng.random() / 20)

    async def run() -> None:
        engine = await open_store(pg_url)
        try:
            actions = [ConsentAction.GRANTED, ConsentAction.WITHDRAWN] * 8
            await asyncio.gather(*(one(engine, a) for a in actions))
            reader = PgStateReader.for_url(pg_url)
            ledger = ConsentLedger(engine, reader)
            history = await ledger.history(SUBJECTS[0], purpose="marketing_push")
            assert len(history) == 16
            records, _ = await ledger.lookup([SUBJECTS[0]], "marketing_push", now=NOW)
            current = await ledger.current(SUBJECTS[0], "marketing_push", now=NOW)
            want = await expected(ledger, SUBJECTS[0], "marketing_push")
            assert records[SUBJECTS[0]].state == want
            assert current.event_id == history[-1].event_id  # ledger (id) order
            await reader.close()
        finally:
            await engine.dispose()

    asyncio.run(run())


def test_the_lean_reader_returns_what_the_engine_reader_returns(
    store_url: str,
) -> None:
    """asyncpg (PostgreSQL) and plain sqlite3 rows equal SQLAlchemy's, value for value,
    for a page of subjects and for one, with one purpose or two."""
    rng = random.Random(8)

    async def run() -> None:
        engine = await open_store(store_url)
        reader = app_reader(store_url)
        try:
            await write(
                engine,
                [
                    change(rng, s, p)
                    for s in SUBJECTS
                    for p in PURPOSES
                    for _ in range(2)
                ],
            )
            for subjects, purposes in (
                (SUBJECTS, PURPOSES[:2]),  # a page, a purpose and the opt-out
                (SUBJECTS, PURPOSES[:1]),
                (SUBJECTS[:1], PURPOSES[1:]),  # one subject: a governed read
            ):
                args = (list(subjects), list(purposes))
                fast = sorted(tuple(r) for r in await reader.states(*args))
                plain = sorted(
                    tuple(r) for r in await SqlStateReader(engine).states(*args)
                )
                assert fast == plain
                assert len(fast) == len(subjects) * len(purposes)
        finally:
            await reader.close()
            await engine.dispose()

    asyncio.run(run())


@pytest.mark.parametrize("lean", [False, True], ids=["engine", "sqlite3"])
def test_a_store_that_cannot_be_read_fails_closed(tmp_path: Path, lean: bool) -> None:
    """A broken store is a 503 `StoreUnavailable`, never a state nor a crash."""

    async def run() -> None:
        url = f"sqlite+aiosqlite:///{tmp_path / 'g.db'}"
        engine = await open_store(url)
        async with engine.begin() as conn:
            await conn.execute(text("DROP TABLE consent_current"))
        reader = SqliteStateReader.for_url(url) if lean else None
        try:
            with pytest.raises(StoreUnavailable) as caught:
                await ConsentLedger(engine, reader).lookup(
                    ["C1"], "marketing_push", now=NOW
                )
            assert caught.value.status == 503
            assert "C1" not in str(caught.value)
        finally:
            if reader is not None:
                await reader.close()
            await engine.dispose()

    asyncio.run(run())


@pytest.mark.postgres
def test_a_postgres_store_that_went_away_fails_closed(pg_url: str) -> None:
    """No table (a store never opened), then a closed pool: both are 503s."""

    async def run() -> None:
        reader = PgStateReader.for_url(pg_url)
        with pytest.raises(StoreUnavailable):
            await reader.states(["C1"], ["marketing_push"])
        await reader.close()
        with pytest.raises(StoreUnavailable):
            await reader.states(["C1"], ["marketing_push"])

    asyncio.run(run())


def test_a_bulk_append_stores_and_projects_what_one_insert_per_row_does(
    store_url: str, tmp_path: Path
) -> None:
    """`bulk_append` (the consent import) leaves the same ledger rows, value for
    value, and the same `consent_current` as per-row inserts through the trigger;
    a failing append leaves nothing behind, and the trigger keeps the projection
    afterwards (SQLite drops and recreates it inside the append's transaction)."""
    rng = random.Random(3)
    rows = [
        change(rng, s, p).values(str(uuid.UUID(int=rng.getrandbits(128))), NOW)
        for s in SUBJECTS
        for p in PURPOSES
        for _ in range(3)
    ]

    async def stored(url: str, *, bulk: bool) -> list[list[Any]]:
        engine = await open_store(url)
        try:
            async with engine.begin() as conn:  # a history before the append
                await conn.execute(insert(ConsentEvent), rows[:5])
            async with engine.begin() as conn:
                if bulk:
                    await conn.run_sync(bulk_append(rows[5:]))
                else:
                    await conn.execute(insert(ConsentEvent), rows[5:])
            await assert_matches_history(ConsentLedger(engine))
            found = [
                [tuple(r) for r in await _read(engine, sql)]
                for sql in (
                    "consent_events ORDER BY id",
                    "consent_current ORDER BY 1, 2",
                )
            ]
            with pytest.raises(IntegrityError):  # an event id twice: nothing stays
                async with engine.begin() as conn:
                    await conn.run_sync(bulk_append([*rows[:1], rows[0]]))
            assert [tuple(r) for r in await _read(engine, "consent_events")] == found[0]
            await write(engine, [change(rng, SUBJECTS[0], PURPOSES[0])])
            await assert_matches_history(ConsentLedger(engine))  # the trigger is back
            return found
        finally:
            await engine.dispose()

    async def run() -> None:
        bulk = await stored(store_url, bulk=True)
        if store_url.startswith("sqlite"):
            per_row_url = f"sqlite+aiosqlite:///{tmp_path / 'per-row.db'}"
            assert bulk == await stored(per_row_url, bulk=False)

    asyncio.run(run())


async def _read(engine: AsyncEngine, table_and_order: str) -> list[Any]:
    async with engine.connect() as conn:
        return list(await conn.execute(text(f"SELECT * FROM {table_and_order}")))  # noqa: S608 - constants

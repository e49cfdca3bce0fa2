"""Decision shapes: stored once, with the first event that names it, on SQLite and PostgreSQL."""

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pg import fresh_database
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from audit.record import AuditDraft, DecisionShape
from audit.verify import verify_trail
from audit.writer import AuditWriter
from governance.errors import AuditWriteFailed
from governance.store import open_store

SHAPE = DecisionShape.of(
    "sha256:0123456789abcdef",
    {"purpose": {"name": "marketing_push"}, "fields": []},
    {"allow": True, "reasons": [], "obligations": {}},
)
OTHER = DecisionShape.of("sha256:0123456789abcdef", {"purpose": {}}, {"allow": False})


def decided(shape: DecisionShape = SHAPE) -> AuditDraft:
    """An access event decided with `shape`."""
    return AuditDraft(
        kind="access.read",
        outcome="allowed",
        caller="campaign-sms",
        policy_revision=shape.revision,
        decision=shape,
    )


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh governance store of each kind."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'g.db'}"
    else:
        with fresh_database() as url:
            yield url


async def rows(store: AsyncEngine, sql: str) -> list[tuple[Any, ...]]:
    """Rows of a raw query."""
    async with store.connect() as conn:
        return [tuple(r) for r in (await conn.execute(text(sql))).all()]


def run(url: str, body: Callable[[AsyncEngine], Awaitable[Any]]) -> Any:
    """Run `body` against the store at `url`."""

    async def scenario() -> Any:
        store = await open_store(url)
        try:
            return await body(store)
        finally:
            await store.dispose()

    return asyncio.run(scenario())


async def started(store: AsyncEngine) -> AuditWriter:
    """A running writer on `store`."""
    writer = AuditWriter(store)
    await writer.start()
    return writer


def test_a_shape_named_by_many_events_is_stored_once(store_url):
    """Fifty events, in one burst and after it, name two shapes: two rows."""

    async def body(store):
        writer = await started(store)
        await asyncio.gather(*(writer.append(decided()) for _ in range(40)))
        for _ in range(10):
            await writer.append(decided(OTHER))
        await writer.stop()
        return await rows(
            store, "SELECT shape_id, revision, input, result FROM decision_shapes"
        )

    stored = run(store_url, body)

    assert sorted(stored) == sorted(
        (s.id, s.revision, s.input, s.result) for s in (SHAPE, OTHER)
    )


def test_writers_sharing_a_store_each_commit_a_shape_both_name(store_url):
    """Two writers (two processes) naming one shape both commit; one row is stored."""

    async def body(store):
        first, second = await started(store), await started(store)
        await asyncio.gather(first.append(decided()), second.append(decided()))
        await first.stop()
        await second.stop()
        return await rows(store, "SELECT COUNT(*) FROM decision_shapes")

    assert run(store_url, body) == [(1,)]


def test_the_event_names_its_shape_under_the_hash_chain(store_url):
    """The stored event carries the shape id, and the trail verifies."""

    async def body(store):
        writer = await started(store)
        row = await writer.append(decided())
        await writer.stop()
        return row, await verify_trail(store)

    row, report = run(store_url, body)

    assert row["decision_shape"] == SHAPE.id
    assert report.ok


def test_verify_names_a_decision_shape_whose_result_was_rewritten(store_url):
    """A stored denial's result turned into an allow no longer gives its id."""

    async def body(store):
        writer = await started(store)
        await writer.append(decided(OTHER))
        await writer.append(decided())
        await writer.stop()
        async with store.begin() as conn:
            await conn.execute(
                text("UPDATE decision_shapes SET result = :allow WHERE shape_id = :id"),
                {"allow": '{"allow":true}', "id": OTHER.id},
            )
        return await verify_trail(store)

    report = run(store_url, body)

    assert report.ok is False
    assert report.altered_shape == OTHER.id
    assert report.as_json()["altered_shape"] == OTHER.id


def test_when_the_commit_fails_then_the_shape_is_stored_with_the_next_event(tmp_path):
    """A shape whose first event was not committed is not remembered as stored."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'g.db'}"
    disk_full = (
        "CREATE TRIGGER disk_full BEFORE INSERT ON audit_events"
        " BEGIN SELECT RAISE(ABORT, 'disk full'); END"
    )

    async def body(store):
        writer = await started(store)
        async with store.begin() as conn:
            await conn.execute(text(disk_full))
        with pytest.raises(AuditWriteFailed):
            await writer.append(decided())
        lost = await rows(store, "SELECT COUNT(*) FROM decision_shapes")
        async with store.begin() as conn:
            await conn.execute(text("DROP TRIGGER disk_full"))
        await writer.append(decided())
        await writer.stop()
        return lost, await rows(store, "SELECT shape_id FROM decision_shapes")

    lost, stored = run(url, body)

    assert lost == [(0,)]
    assert stored == [(SHAPE.id,)]


def test_the_shape_id_covers_revision_input_and_result():
    """Changing any of the three parts gives another id."""
    variants = [
        DecisionShape.of("sha256:other", {"purpose": {}}, {"allow": False}),
        DecisionShape.of(OTHER.revision, {"purpose": {"x": 1}}, {"allow": False}),
        DecisionShape.of(OTHER.revision, {"purpose": {}}, {"allow": True}),
    ]

    assert len({OTHER.id, *(v.id for v in variants)}) == 4

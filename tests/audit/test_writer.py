"""The group-commit audit writer against a real SQLite governance store."""

import asyncio
import sqlite3
import threading
from collections.abc import Awaitable, Callable
from contextlib import closing
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from audit.record import SUBJECT_REFS, AuditDraft
from audit.verify import VerifyReport, verify_trail
from audit.writer import AuditWriter
from governance.consent.ledger import ConsentAction, ConsentChange
from governance.errors import AuditWriteFailed
from governance.store import open_store

T = TypeVar("T")
Body = Callable[[AsyncEngine, AuditWriter], Awaitable[T]]

DISK_FULL = (
    "CREATE TRIGGER disk_full BEFORE INSERT ON audit_events"
    " BEGIN SELECT RAISE(ABORT, 'disk full'); END"
)
# How long an append may take before a test calls it hung.
PATIENCE_S = 1.0


def draft(n: int = 0, kind: str = "access.read") -> AuditDraft:
    """An access event (or another kind) with a recognisable detail."""
    return AuditDraft(
        kind=kind, outcome="allowed", caller="campaign-sms", detail={"n": n}
    )


def granted(n: int = 0) -> AuditDraft:
    """The event a consent grant commits with (a ledger row never comes without one)."""
    return draft(n, "consent.granted")


def consent(subject_id: str = "C000001") -> tuple[str, Any]:
    """A consent grant's event id and its insert statement."""
    change = ConsentChange(
        subject_id,
        "marketing_push",
        ConsentAction.GRANTED,
        "2026.01",
        "click",
        "app",
        "brand-app",
    )
    event_id, _, stmt = change.statement()
    return event_id, stmt


async def gather_settled(*appends: Awaitable[dict[str, Any]]) -> list[Any]:
    """Each append's row, or the exception it raised, in order."""
    return list(await asyncio.gather(*appends, return_exceptions=True))


def run_with_writer(db: Path, body: Body[T]) -> T:
    """Run `body` with a started writer on the store at `db`, then stop and close both."""

    async def scenario() -> T:
        store = await open_store(f"sqlite+aiosqlite:///{db}")
        writer = AuditWriter(store)
        await writer.start()
        try:
            return await body(store, writer)
        finally:
            await writer.stop()
            await store.dispose()

    return asyncio.run(scenario())


def verify_db(db: Path) -> VerifyReport:
    """verify_trail over the store at `db`."""

    async def scenario() -> VerifyReport:
        store = await open_store(f"sqlite+aiosqlite:///{db}")
        try:
            return await verify_trail(store)
        finally:
            await store.dispose()

    return asyncio.run(scenario())


def query(db: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Rows of a raw SQL query against the store file."""
    with closing(sqlite3.connect(db)) as conn:
        return conn.execute(sql, params).fetchall()


def execute(db: Path, sql: str) -> None:
    """Run one raw statement against the store file and commit it."""
    with closing(sqlite3.connect(db)) as conn:
        conn.execute(sql)
        conn.commit()


@pytest.fixture(scope="module")
def burst(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """200 concurrent appends on a fresh store: the rows returned and the file."""
    db = tmp_path_factory.mktemp("burst") / "g.db"

    async def body(store: AsyncEngine, writer: AuditWriter) -> list[dict[str, Any]]:
        return list(
            await asyncio.gather(*(writer.append(draft(n)) for n in range(200)))
        )

    returned = run_with_writer(db, body)
    return {"db": db, "returned": returned}


class TestConcurrentAppends:
    """Many appends at once become one gap-free, verifiable chain."""

    def test_when_200_appends_run_at_once_then_seqs_are_1_to_200(self, burst):
        """Every append gets its own seq and together they leave no gap."""
        stored = [
            s
            for (s,) in query(burst["db"], "SELECT seq FROM audit_events ORDER BY seq")
        ]

        assert sorted(r["seq"] for r in burst["returned"]) == list(range(1, 201))
        assert stored == list(range(1, 201))

    def test_when_200_appends_run_at_once_then_the_trail_verifies(self, burst):
        """The chain written by a burst verifies end to end."""
        assert verify_db(burst["db"]) == VerifyReport(True, 200, 1, None)

    def test_when_200_appends_run_at_once_then_head_is_the_last_event(self, burst):
        """The chain head records seq 200 and the hash of the event stored there."""
        head = query(burst["db"], "SELECT head_seq, head_hash FROM audit_chains")
        last = query(burst["db"], "SELECT seq, hash FROM audit_events WHERE seq = 200")

        assert head == last

    def test_append_returns_the_row_as_stored(self, burst):
        """The row an append returns is exactly the row in the store."""
        with closing(sqlite3.connect(burst["db"])) as conn:
            conn.row_factory = sqlite3.Row
            stored = {
                r["event_id"]: dict(r)
                for r in conn.execute("SELECT * FROM audit_events")
            }

        assert all(stored[r["event_id"]] == r for r in burst["returned"])


class TestAlsoStatements:
    """Statements passed as `also` share their event's transaction."""

    def test_when_also_is_given_then_it_commits_with_its_event(self, tmp_path):
        """The consent row and its audit event are both stored."""
        db = tmp_path / "g.db"
        event_id, stmt = consent()

        async def body(store: AsyncEngine, writer: AuditWriter) -> dict[str, Any]:
            return await writer.append(granted(), also=[stmt])

        row = run_with_writer(db, body)

        assert query(db, "SELECT event_id FROM consent_events") == [(event_id,)]
        assert query(
            db, "SELECT seq FROM audit_events WHERE event_id = ?", row["event_id"]
        )

    @pytest.fixture
    def mixed_batch(self, tmp_path: Path) -> dict[str, Any]:
        """Three appends in one batch, the middle one's `also` violating a unique key."""
        db = tmp_path / "g.db"
        taken_id, taken = consent("C000001")
        (left_id, left), (right_id, right) = consent("C000002"), consent("C000003")
        batches: list[int] = []

        async def body(store: AsyncEngine, writer: AuditWriter) -> list[Any]:
            await writer.append(granted(0), also=[taken])
            real_commit = writer._commit

            async def spy(batch: list[Any]) -> list[dict[str, Any]]:
                batches.append(len(batch))
                return await real_commit(batch)

            writer._commit = spy  # type: ignore[method-assign]
            return await gather_settled(
                writer.append(granted(1), also=[left]),
                writer.append(granted(2), also=[taken]),
                writer.append(granted(3), also=[right]),
            )

        results = run_with_writer(db, body)
        return {
            "db": db,
            "results": results,
            "batches": batches,
            "consents": {taken_id, left_id, right_id},
        }

    def test_when_one_also_fails_then_only_its_append_raises(self, mixed_batch):
        """The failing append raises AuditWriteFailed; its batch neighbours return rows."""
        left, middle, right = mixed_batch["results"]

        assert mixed_batch["batches"][0] == 3  # the three really shared a transaction
        assert isinstance(middle, AuditWriteFailed)
        assert (left["detail"], right["detail"]) == ('{"n":1}', '{"n":3}')

    def test_when_one_also_fails_then_neighbours_consents_are_stored(self, mixed_batch):
        """The neighbours' consent rows commit, and nothing of the failed one does."""
        stored = {
            e
            for (e,) in query(mixed_batch["db"], "SELECT event_id FROM consent_events")
        }

        assert stored == mixed_batch["consents"]
        assert len(query(mixed_batch["db"], "SELECT id FROM consent_events")) == 3

    def test_when_one_also_fails_then_its_event_is_not_stored_and_no_gap_remains(
        self, mixed_batch
    ):
        """The chain holds events 0, 1 and 3 at seqs 1..3 and verifies."""
        rows = query(
            mixed_batch["db"], "SELECT seq, detail FROM audit_events ORDER BY seq"
        )

        assert rows == [(1, '{"n":0}'), (2, '{"n":1}'), (3, '{"n":3}')]
        assert verify_db(mixed_batch["db"]).ok


class TestUnwritableStore:
    """When the store refuses writes, appends fail closed and the writer recovers."""

    @pytest.fixture
    def outage(self, tmp_path: Path) -> dict[str, Any]:
        """One event stored, then appends while a trigger refuses every insert."""
        db = tmp_path / "g.db"
        event_id, stmt = consent()

        async def body(store: AsyncEngine, writer: AuditWriter) -> list[Any]:
            await writer.append(draft(0))
            async with store.begin() as conn:
                await conn.exec_driver_sql(DISK_FULL)
            return await gather_settled(
                writer.append(granted(1), also=[stmt]),
                writer.append(draft(2)),
            )

        return {"db": db, "results": run_with_writer(db, body), "consent": event_id}

    def test_when_store_is_unwritable_then_append_raises(self, outage):
        """Every append made during the outage raises AuditWriteFailed."""
        assert all(isinstance(r, AuditWriteFailed) for r in outage["results"])

    def test_when_store_is_unwritable_then_nothing_is_stored(self, outage):
        """Neither the events, nor their `also` rows, nor a head move are stored."""
        assert query(outage["db"], "SELECT seq FROM audit_events") == [(1,)]
        assert query(outage["db"], "SELECT head_seq FROM audit_chains") == [(1,)]
        assert query(outage["db"], "SELECT event_id FROM consent_events") == []

    def test_when_store_recovers_then_the_same_writer_appends_without_a_gap(
        self, tmp_path
    ):
        """After the trigger is dropped the next event takes seq 2 and the trail verifies."""
        db = tmp_path / "g.db"

        async def body(store: AsyncEngine, writer: AuditWriter) -> Any:
            await writer.append(draft(0))
            async with store.begin() as conn:
                await conn.exec_driver_sql(DISK_FULL)
            with pytest.raises(AuditWriteFailed):
                await writer.append(draft(1))
            async with store.begin() as conn:
                await conn.exec_driver_sql("DROP TRIGGER disk_full")
            return await writer.append(draft(2))

        row = run_with_writer(db, body)

        assert row["seq"] == 2
        assert verify_db(db) == VerifyReport(True, 2, 1, None)


class TestLifecycle:
    """A writer appends only while it runs, and each writer keeps its own chain."""

    def test_when_writer_is_stopped_then_append_raises(self, tmp_path):
        """Appending after stop() raises AuditWriteFailed."""

        async def body(store: AsyncEngine, writer: AuditWriter) -> None:
            await writer.stop()
            await writer.append(draft())

        with pytest.raises(AuditWriteFailed):
            run_with_writer(tmp_path / "g.db", body)

    def test_when_writer_was_never_started_then_append_raises(self, tmp_path):
        """Appending before start() raises AuditWriteFailed."""

        async def scenario() -> None:
            store = await open_store(f"sqlite+aiosqlite:///{tmp_path / 'g.db'}")
            try:
                await AuditWriter(store).append(draft())
            finally:
                await store.dispose()

        with pytest.raises(AuditWriteFailed):
            asyncio.run(scenario())

    def test_two_writers_on_one_store_keep_separate_chains(self, tmp_path):
        """Interleaved appends of two writers form two chains that both verify."""
        db = tmp_path / "g.db"

        async def body(store: AsyncEngine, first: AuditWriter) -> tuple[str, str]:
            second = AuditWriter(store)
            await second.start()
            try:
                await asyncio.gather(
                    *(w.append(draft(n)) for n in range(20) for w in (first, second))
                )
            finally:
                await second.stop()
            return first.chain_id, second.chain_id

        chains = run_with_writer(db, body)
        seqs = query(
            db, "SELECT chain_id, COUNT(*), MAX(seq) FROM audit_events GROUP BY 1"
        )

        assert sorted(seqs) == sorted((c, 20, 20) for c in chains)
        assert verify_db(db) == VerifyReport(True, 40, 2, None)


class TestSettling:
    """Every append ends in a row or in AuditWriteFailed; none is left hanging."""

    def test_when_stopped_with_appends_in_flight_then_each_is_committed(self, tmp_path):
        """stop() during a slow commit still commits every append queued before it."""
        db = tmp_path / "g.db"

        async def body(store: AsyncEngine, writer: AuditWriter) -> list[Any]:
            other = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
            with closing(other):
                # Another connection holds the write lock for 50 ms: the commit is slow.
                other.execute("BEGIN IMMEDIATE")
                release = threading.Timer(0.05, other.execute, ["ROLLBACK"])
                release.start()
                appends = [
                    asyncio.create_task(writer.append(draft(n))) for n in range(50)
                ]
                await asyncio.sleep(0)  # all 50 are queued
                await writer.stop()
                release.join()
            return await asyncio.wait_for(gather_settled(*appends), PATIENCE_S)

        results = run_with_writer(db, body)

        assert sorted(r["seq"] for r in results) == list(range(1, 51))
        assert verify_db(db) == VerifyReport(True, 50, 1, None)

    def test_when_one_draft_cannot_be_encoded_then_only_its_append_fails(
        self, tmp_path
    ):
        """A draft whose detail is not JSON fails alone; its batch neighbours commit."""
        bad = AuditDraft(kind="access.read", outcome="allowed", detail={"x": object()})

        async def body(store: AsyncEngine, writer: AuditWriter) -> list[Any]:
            batch = gather_settled(
                writer.append(draft(1)), writer.append(bad), writer.append(draft(3))
            )
            return await asyncio.wait_for(batch, PATIENCE_S)

        left, middle, right = run_with_writer(tmp_path / "g.db", body)

        assert isinstance(middle, AuditWriteFailed)
        assert (left["seq"], right["seq"]) == (1, 2)

    def test_when_one_draft_cannot_be_encoded_then_the_writer_keeps_running(
        self, tmp_path
    ):
        """After an unencodable draft the same writer appends the next event."""
        bad = AuditDraft(kind="access.read", outcome="allowed", detail={"x": object()})

        async def body(store: AsyncEngine, writer: AuditWriter) -> dict[str, Any]:
            with pytest.raises(AuditWriteFailed):
                await asyncio.wait_for(writer.append(bad), PATIENCE_S)
            return await asyncio.wait_for(writer.append(draft(2)), PATIENCE_S)

        assert run_with_writer(tmp_path / "g.db", body)["seq"] == 1


class TestSubjectIndex:
    """Events about many subjects (queries) are indexed per subject, atomically."""

    def test_each_listed_subject_is_indexed_with_its_event(self, tmp_path):
        db = tmp_path / "g.db"
        query_event = AuditDraft(
            kind="access.query",
            outcome="allowed",
            caller="campaign-sms",
            detail={SUBJECT_REFS: ["s_a", "s_b"]},
        )

        async def body(store: AsyncEngine, writer: AuditWriter) -> list[Any]:
            return await writer.append_all([draft(1), query_event])

        rows = run_with_writer(db, body)

        indexed = query(
            db, "SELECT subject_ref, ts, seq FROM audit_subjects ORDER BY subject_ref"
        )
        assert indexed == [
            ("s_a", rows[1]["ts"], rows[1]["seq"]),
            ("s_b", rows[1]["ts"], rows[1]["seq"]),
        ]

    def test_when_the_commit_fails_then_no_index_row_is_left(self, tmp_path):
        db = tmp_path / "g.db"
        _, taken = consent("C000001")
        query_event = AuditDraft(
            kind="access.query", outcome="allowed", detail={SUBJECT_REFS: ["s_a"]}
        )

        async def body(store: AsyncEngine, writer: AuditWriter) -> list[Any]:
            await writer.append(granted(0), also=[taken])
            return await gather_settled(writer.append(query_event, also=[taken]))

        (result,) = run_with_writer(db, body)

        assert isinstance(result, AuditWriteFailed)
        assert query(db, "SELECT count(*) FROM audit_subjects") == [(0,)]

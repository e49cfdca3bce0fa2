"""verify_trail over a real store: intact trails pass, raw-SQL tampering is named."""

import asyncio
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from audit.record import SUBJECT_REFS, AuditDraft
from audit.verify import VerifyReport, verify_trail
from audit.writer import AuditWriter
from governance.store import open_store

FIRST_EVENTS, SECOND_EVENTS = 5, 4
STRANGER = "f" * 32


def url(db: Path) -> str:
    """The store URL of an SQLite file."""
    return f"sqlite+aiosqlite:///{db}"


async def _write(db: Path) -> tuple[str, str]:
    store = await open_store(url(db))
    first, second = AuditWriter(store), AuditWriter(store)
    try:
        for writer, count in ((first, FIRST_EVENTS), (second, SECOND_EVENTS)):
            await writer.start()
            for n in range(count):
                await writer.append(
                    AuditDraft(
                        kind="access.read",
                        outcome="allowed",
                        caller="campaign-sms",
                        detail={"n": n},
                    )
                )
    finally:
        await first.stop()
        await second.stop()
        await store.dispose()
    return first.chain_id, second.chain_id


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """A store with two chains (5 and 4 events), written once per module."""
    db = tmp_path_factory.mktemp("trail") / "g.db"
    first, second = asyncio.run(_write(db))
    return db, first, second


@pytest.fixture
def trail(template: tuple[Path, str, str], tmp_path: Path) -> tuple[Path, str, str]:
    """This test's own copy of the two-chain store: (file, first chain, second chain)."""
    db, first, second = template
    for part in db.parent.glob(db.name + "*"):
        shutil.copy(part, tmp_path / part.name)
    return tmp_path / db.name, first, second


def verify(db: Path) -> VerifyReport:
    """verify_trail over the store at `db`."""

    async def scenario() -> VerifyReport:
        store = await open_store(url(db))
        try:
            return await verify_trail(store)
        finally:
            await store.dispose()

    return asyncio.run(scenario())


def tamper(db: Path, sql: str, **params: object) -> None:
    """Change the store behind the writer's back, with raw SQL."""
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute(sql, params).rowcount == 1
        conn.commit()


COPY_ROW = (
    "INSERT INTO audit_events SELECT {chain}, {seq}, 'e0000000-0000-4000-8000-000000000000',"
    " ts, kind, caller, purpose, dataset, subject_ref, fields, obligations, outcome, reason,"
    " decision_id, policy_revision, decision_shape, detail, prev_hash, hash FROM audit_events"
    " WHERE chain_id = :first AND seq = 2"
)

# (SQL run against the store, chain named by the report, seq named, problem named)
TAMPERING = [
    pytest.param(
        "UPDATE audit_events SET outcome = 'denied' WHERE chain_id = :first AND seq = 3",
        "first",
        3,
        "altered",
        id="update-outcome",
    ),
    pytest.param(
        "UPDATE audit_events SET detail = '{\"n\":9}' WHERE chain_id = :second AND seq = 2",
        "second",
        2,
        "altered",
        id="update-detail-second-chain",
    ),
    pytest.param(
        "UPDATE audit_events SET ts = '2020-01-01T00:00:00.000000Z'"
        " WHERE chain_id = :first AND seq = 1",
        "first",
        1,
        "altered",
        id="update-ts-first-event",
    ),
    pytest.param(
        "UPDATE audit_events SET hash = prev_hash WHERE chain_id = :first AND seq = 4",
        "first",
        4,
        "altered",
        id="update-stored-hash",
    ),
    pytest.param(
        "UPDATE audit_events SET prev_hash = hash WHERE chain_id = :first AND seq = 2",
        "first",
        2,
        "broken_link",
        id="update-prev-hash",
    ),
    pytest.param(
        "DELETE FROM audit_events WHERE chain_id = :first AND seq = 3",
        "first",
        3,
        "missing",
        id="delete-middle-row",
    ),
    pytest.param(
        "DELETE FROM audit_events WHERE chain_id = :second AND seq = 4",
        "second",
        4,
        "truncated",
        id="delete-last-row",
    ),
    pytest.param(
        COPY_ROW.format(chain=":first", seq=FIRST_EVENTS + 1),
        "first",
        FIRST_EVENTS + 1,
        "broken_link",
        id="insert-row-after-head",
    ),
    pytest.param(
        COPY_ROW.format(chain=f"'{STRANGER}'", seq=1),
        "stranger",
        1,
        "unknown_chain",
        id="insert-row-of-unregistered-chain",
    ),
    pytest.param(
        "UPDATE audit_events SET detail = CAST(detail AS BLOB)"
        " WHERE chain_id = :first AND seq = 2",
        "first",
        2,
        "altered",
        id="store-a-blob",
    ),
    pytest.param(
        "UPDATE audit_events SET ts = 20200101 WHERE chain_id = :second AND seq = 3",
        "second",
        3,
        "altered",
        id="store-a-number-for-text",
    ),
    pytest.param(
        COPY_ROW.format(chain=":first", seq=0),
        "first",
        0,
        "before_genesis",
        id="insert-row-before-the-first",
    ),
    pytest.param(
        COPY_ROW.format(chain=":second", seq=-7),
        "second",
        -7,
        "before_genesis",
        id="insert-row-at-a-negative-seq",
    ),
    pytest.param(
        "UPDATE audit_chains SET head_hash = '0000' WHERE chain_id = :second",
        "second",
        SECOND_EVENTS + 1,
        "head_mismatch",
        id="update-head-hash",
    ),
    pytest.param(
        "UPDATE audit_chains SET head_seq = head_seq + 1 WHERE chain_id = :first",
        "first",
        FIRST_EVENTS + 1,
        "truncated",
        id="raise-head-seq",
    ),
    pytest.param(
        "UPDATE audit_chains SET head_seq = head_seq - 1 WHERE chain_id = :first",
        "first",
        FIRST_EVENTS + 1,
        "head_mismatch",
        id="lower-head-seq",
    ),
]


def test_when_trail_is_untouched_then_report_is_ok(trail):
    """An untouched two-chain trail reports ok, every event and both chains."""
    db, _, _ = trail

    assert verify(db) == VerifyReport(True, FIRST_EVENTS + SECOND_EVENTS, 2, None)


def test_when_store_is_empty_then_report_is_ok_with_nothing_checked(tmp_path):
    """A store without chains or events is intact and counts nothing."""
    assert verify(tmp_path / "g.db") == VerifyReport(True, 0, 0, None)


@pytest.mark.parametrize(("sql", "chain", "seq", "problem"), TAMPERING)
def test_when_trail_is_tampered_then_first_bad_place_is_named(
    trail, sql, chain, seq, problem
):
    """Raw-SQL tampering makes the report fail and name chain, seq and problem."""
    db, first, second = trail
    tamper(db, sql, first=first, second=second)
    chain_id = {"first": first, "second": second, "stranger": STRANGER}[chain]

    report = verify(db)

    assert report.ok is False
    assert report.first_bad is not None
    assert (
        report.first_bad.chain_id,
        report.first_bad.seq,
        report.first_bad.problem,
    ) == (
        chain_id,
        seq,
        problem,
    )


def test_when_a_row_is_altered_then_the_fault_names_its_event(trail):
    """An altered row's fault carries that row's event id."""
    db, first, _ = trail
    with closing(sqlite3.connect(db)) as conn:
        (event_id,) = conn.execute(
            "SELECT event_id FROM audit_events WHERE chain_id = ? AND seq = 2", (first,)
        ).fetchone()
    tamper(
        db,
        "UPDATE audit_events SET caller = 'x' WHERE chain_id = :first AND seq = 2",
        first=first,
    )

    report = verify(db)

    assert report.first_bad is not None
    assert report.first_bad.event_id == event_id


def test_when_the_second_chain_is_bad_then_events_up_to_the_fault_are_counted(trail):
    """The report counts every event of the good chain and those checked of the bad one."""
    db, _, second = trail
    tamper(
        db,
        "UPDATE audit_events SET kind = 'x' WHERE chain_id = :second AND seq = 3",
        second=second,
    )

    report = verify(db)

    assert (report.events, report.chains) == (FIRST_EVENTS + 3, 2)


def test_when_both_chains_are_bad_then_the_earlier_started_chain_is_named(trail):
    """With faults in both chains, the one started first is reported."""
    db, first, second = trail
    for chain in (second, first):
        tamper(
            db,
            "DELETE FROM audit_events WHERE chain_id = :chain AND seq = 2",
            chain=chain,
        )

    report = verify(db)

    assert report.first_bad is not None
    assert report.first_bad.chain_id == first


async def _write_queries(db: Path) -> str:
    """One chain: a read, a query releasing s_a and s_b, a read, a query of s_c."""
    store = await open_store(url(db))
    writer = AuditWriter(store)
    try:
        await writer.start()
        for detail in (
            {"n": 1},
            {SUBJECT_REFS: ["s_a", "s_b"]},
            {"n": 3},
            {SUBJECT_REFS: ["s_c"]},
        ):
            await writer.append(
                AuditDraft(
                    kind="access.query" if SUBJECT_REFS in detail else "access.read",
                    outcome="allowed",
                    caller="campaign-sms",
                    detail=detail,
                )
            )
    finally:
        await writer.stop()
        await store.dispose()
    return writer.chain_id


INDEX_TAMPERING = [
    pytest.param("DELETE FROM audit_subjects WHERE subject_ref = 's_b'", 2, id="hide"),
    pytest.param(
        "INSERT INTO audit_subjects SELECT 's_x', ts, chain_id, seq FROM audit_events"
        " WHERE seq = 3",
        3,
        id="add-to-a-read",
    ),
    pytest.param(
        "INSERT INTO audit_subjects SELECT 's_x', ts, chain_id, seq FROM audit_events"
        " WHERE seq = 2",
        2,
        id="add-to-a-query",
    ),
    pytest.param(
        "UPDATE audit_subjects SET ts = '2020-01-01T00:00:00.000000Z'"
        " WHERE subject_ref = 's_c'",
        4,
        id="move-in-time",
    ),
    pytest.param(
        "INSERT INTO audit_subjects SELECT 's_x', ts, chain_id, 9 FROM audit_events"
        " WHERE seq = 4",
        9,
        id="point-past-the-chain",
    ),
]


@pytest.mark.parametrize(("sql", "seq"), INDEX_TAMPERING)
def test_the_subject_index_must_list_what_each_event_names(tmp_path, sql, seq):
    """Who was released by which query is read from the index (the officer's
    search by subject, the consent center): a row hidden, added or moved is
    named, though the events themselves are intact."""
    db = tmp_path / "g.db"
    chain = asyncio.run(_write_queries(db))
    intact = verify(db)
    tamper(db, sql)

    report = verify(db)

    assert intact.ok
    assert report.first_bad is not None
    assert (report.first_bad.chain_id, report.first_bad.seq) == (chain, seq)
    assert report.first_bad.problem == "index_mismatch"

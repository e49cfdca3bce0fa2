"""The proxy's sealer: seals at start, periodically and at stop, and outlives failures."""

import asyncio
import sqlite3
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sealed_trails import query, sqlite_url, write_trail
from structlog.testing import capture_logs

from adapters.keys.local import LocalKeyProvider
from audit.checkpoint_task import Sealer
from governance.store import open_store

REFUSE_CHECKPOINTS = (
    "CREATE TRIGGER refuse BEFORE INSERT ON audit_checkpoints"
    " BEGIN SELECT RAISE(ABORT, 'disk full'); END"
)


def sql(db: Path, statement: str) -> None:
    """Run one statement on the store behind the sealer's back."""
    with closing(sqlite3.connect(db)) as conn:
        conn.execute(statement)
        conn.commit()


async def until(condition, seconds: float = 10.0) -> None:
    """Wait until `condition()` holds, polling; fail after `seconds`."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition never held"
        await asyncio.sleep(0.02)


def test_a_failing_seal_is_logged_and_retried_until_it_succeeds(tmp_path):
    """While the store refuses checkpoints, rounds fail (logged, shown in status) and
    the sealer keeps going; once it accepts them the next round seals everything."""
    db = tmp_path / "g.db"

    async def scenario():
        store = await open_store(sqlite_url(db))
        sealer = Sealer(store, LocalKeyProvider(tmp_path / "keys.json"), interval=0.05)
        try:
            await write_trail(store, (6,))
            sql(db, REFUSE_CHECKPOINTS)
            with capture_logs() as logs:
                await sealer.start()
                await until(lambda: sealer.status()["last_error"] is not None)
                failing = sealer.status()
                sql(db, "DROP TRIGGER refuse")
                await until(lambda: sealer.status()["latest"] is not None)
            return failing, sealer.status(), logs
        finally:
            await sealer.stop()
            await store.dispose()

    failing, healed, logs = asyncio.run(scenario())

    assert failing["latest"] is None
    assert failing["last_error"] == "IntegrityError"
    assert {"event": "audit_seal_failed", "error": "IntegrityError"} in [
        {k: e[k] for k in ("event", "error")} for e in logs if "error" in e
    ]
    assert (healed["latest"], healed["tree_size"], healed["last_error"]) == (1, 6, None)


def test_stop_seals_what_was_committed_after_the_last_round(tmp_path):
    """Events written after the start-up seal are sealed when the sealer stops."""
    db = tmp_path / "g.db"

    async def scenario():
        store = await open_store(sqlite_url(db))
        sealer = Sealer(store, LocalKeyProvider(tmp_path / "keys.json"), interval=3600)
        try:
            await write_trail(store, (4,))
            await sealer.start()
            await until(lambda: sealer.status()["latest"] == 1)
            await write_trail(store, (3,))
        finally:
            await sealer.stop()
            await store.dispose()
        return sealer.status()

    status = asyncio.run(scenario())

    assert (status["latest"], status["tree_size"]) == (2, 7)
    assert query(db, "SELECT COUNT(*) FROM audit_leaves") == [(7,)]


def test_status_gives_the_age_of_the_latest_checkpoint(tmp_path):
    """`age_seconds` is how long ago the latest checkpoint was sealed."""
    db = tmp_path / "g.db"
    later = datetime.now(UTC) + timedelta(seconds=90)

    async def scenario():
        store = await open_store(sqlite_url(db))
        keys = LocalKeyProvider(tmp_path / "keys.json")
        sealer = Sealer(store, keys, interval=0, now=lambda: later)
        try:
            await write_trail(store, (2,))
            await sealer.seal_now()
            return sealer.status()
        finally:
            await store.dispose()

    status = asyncio.run(scenario())

    assert 85 <= status["age_seconds"] <= 95

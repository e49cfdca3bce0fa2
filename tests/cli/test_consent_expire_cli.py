"""`govproxy consent expire` writes the expiry of lapsed grants into the ledger."""

import asyncio
import sqlite3
from contextlib import closing
from datetime import UTC, datetime, timedelta

from audit.verify import verify_trail
from audit.writer import AuditWriter
from governance.cli.main import main
from governance.consent.expiry import sweep
from governance.consent.ledger import ConsentAction, ConsentChange
from governance.store import open_store


def insert_grant(db, subject_id, expires_at):
    """Store a grant with the given expiry straight into the ledger."""
    change = ConsentChange(
        subject_id,
        "analytics",
        ConsentAction.GRANTED,
        "2026.01",
        "click",
        "app",
        "test",
        scope=("identity.customer_id",),
        expires_at=expires_at,
    )
    values = change.values(
        "00000000-0000-4000-8000-" + subject_id[-6:].rjust(12, "0"),
        datetime.now(UTC) - timedelta(days=10),
    )
    values["scope"] = '["identity.customer_id"]'
    for key in ("expires_at", "recorded_at"):
        values[key] = (
            values[key].replace(tzinfo=None).isoformat(" ") if values[key] else None
        )
    with closing(sqlite3.connect(db)) as conn:
        columns = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        conn.execute(
            f"INSERT INTO consent_events ({columns}) VALUES ({marks})",  # noqa: S608
            list(values.values()),
        )
        conn.commit()


def actions(db, subject_id):
    """The subject's analytics events, in order."""
    with closing(sqlite3.connect(db)) as conn:
        return [
            r[0]
            for r in conn.execute(
                "SELECT action FROM consent_events WHERE subject_id = ? AND purpose = 'analytics'"
                " ORDER BY id",
                (subject_id,),
            )
        ]


def test_lapsed_grants_get_one_expired_event_each_and_run_twice_adds_none(
    demo_dir, capsys
):
    """Only grants past expiry, still the latest state, get an audited expired event."""
    db = demo_dir / "governance.db"
    insert_grant(db, "C000390", datetime.now(UTC) - timedelta(days=1))
    insert_grant(db, "C000391", datetime.now(UTC) + timedelta(days=1))
    config = ["--config", str(demo_dir / "govproxy.yaml"), "consent", "expire"]

    first = main(config)
    out = capsys.readouterr().out
    second = main(config)

    async def verified():
        store = await open_store("sqlite+aiosqlite:///" + str(db))
        try:
            return await verify_trail(store)
        finally:
            await store.dispose()

    assert (first, second) == (0, 0)
    assert "1 consents expired" in out
    assert actions(db, "C000390")[-1] == "expired"
    assert actions(db, "C000391")[-1] == "granted"
    assert "0 consents expired" in capsys.readouterr().out
    assert asyncio.run(verified()).ok


def test_two_sweeps_at_once_expire_each_grant_once(demo_dir):
    """Two instances sweeping together: the second to commit is refused, sweeps
    again, and finds nothing left; every lapsed grant has one expired event."""
    db = demo_dir / "governance.db"
    lapsed = ["C000392", "C000393"]
    for subject in lapsed:
        insert_grant(db, subject, datetime.now(UTC) - timedelta(days=1))

    async def sweep_twice() -> list[int]:
        store = await open_store("sqlite+aiosqlite:///" + str(db))
        writers = [AuditWriter(store), AuditWriter(store)]
        try:
            for writer in writers:
                await writer.start()
            return list(
                await asyncio.gather(
                    *(sweep(store, w, str, now=datetime.now(UTC)) for w in writers)
                )
            )
        finally:
            for writer in writers:
                await writer.stop()
            await store.dispose()

    swept = asyncio.run(sweep_twice())

    assert sorted(swept) == [0, len(lapsed)]
    assert [actions(db, s).count("expired") for s in lapsed] == [1, 1]

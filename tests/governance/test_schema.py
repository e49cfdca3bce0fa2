"""The store's schema: Alembic revisions from empty and from the previous release."""

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from pg import pg_url
from sqlalchemy import Connection, inspect, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel

from adapters.sql.engine import create_engine
from audit.record import AuditDraft
from audit.verify import verify_trail
from audit.writer import AuditWriter
from governance.cli.main import main
from governance.schema import BASELINE, alembic_config, current, head, managed
from governance.store import open_store

__all__ = ["pg_url"]  # fixture: imported so that pytest finds it


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database on each backend."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'governance.db'}"
    else:
        yield request.getfixturevalue("pg_url")


def on_connection(url: str, work: object) -> object:
    """Run `work(sync_connection)` in one transaction on a plain engine (no migration)."""

    async def run() -> object:
        engine = create_engine(url)
        try:
            async with engine.begin() as conn:
                return await conn.run_sync(work)  # type: ignore[arg-type]
        finally:
            await engine.dispose()

    return asyncio.run(run())


def drift(conn: Connection) -> list[object]:
    """What differs between the database and the models (Alembic's comparison)."""
    context = MigrationContext.configure(conn, opts={"include_object": managed})
    return compare_metadata(context, SQLModel.metadata)


def open_and_close(url: str) -> None:
    """Open the store as the proxy does at start, then close it."""

    async def run() -> None:
        engine = await open_store(url)
        await engine.dispose()

    asyncio.run(run())


class TestFromEmpty:
    def test_the_migrations_alone_build_exactly_the_models_schema(
        self, store_url: str
    ) -> None:
        """Upgrading an empty database revision by revision gives what the code expects."""

        def upgrade_then_compare(conn: Connection) -> list[object]:
            command.upgrade(alembic_config(conn), "head")
            return drift(conn)

        assert on_connection(store_url, upgrade_then_compare) == []

    def test_a_new_store_opens_at_the_newest_revision(self, store_url: str) -> None:
        """The first start creates the schema and stamps it head; a second start is a no-op."""
        open_and_close(store_url)
        open_and_close(store_url)

        assert on_connection(store_url, current) == head()
        assert on_connection(store_url, drift) == []


class TestFromThePreviousRelease:
    @pytest.fixture
    def old_store(self, store_url: str) -> str:
        """A store as the release before migrations left it: baseline tables, data, no version."""

        def baseline(conn: Connection) -> None:
            command.upgrade(alembic_config(conn), BASELINE)
            conn.execute(text("DROP TABLE alembic_version"))
            conn.execute(
                text(
                    "INSERT INTO callers (name, role, purposes, key_id, key_hash,"
                    " created_at) VALUES ('crm', 'service', '[\"analytics\"]', 'k1',"
                    " :hash, CURRENT_TIMESTAMP)"
                ),
                {"hash": "0" * 64},
            )

        on_connection(store_url, baseline)

        async def audit_something() -> None:
            engine = create_engine(store_url)
            writer = AuditWriter(engine)
            try:
                await writer.start()
                await writer.append(
                    AuditDraft(kind="caller.added", outcome="allowed", detail={"n": 1})
                )
            finally:
                await writer.stop()
                await engine.dispose()

        asyncio.run(audit_something())
        return store_url

    def test_it_is_upgraded_in_place_and_keeps_its_data(self, old_store: str) -> None:
        """The next start stamps the baseline, upgrades, and the trail still verifies."""
        assert on_connection(old_store, current) is None

        open_and_close(old_store)

        def inspect_store(conn: Connection) -> tuple[object, ...]:
            return (
                current(conn),
                conn.execute(text("SELECT name FROM callers")).all(),
                "audit_purges" in inspect(conn).get_table_names(),
                drift(conn),
            )

        revision, callers, purges, differences = on_connection(  # type: ignore[misc]
            old_store, inspect_store
        )
        assert (revision, callers, purges, differences) == (
            head(),
            [("crm",)],
            True,
            [],
        )

        async def verified() -> bool:
            engine = await open_store(old_store)
            try:
                return (await verify_trail(engine)).ok
            finally:
                await engine.dispose()

        assert asyncio.run(verified())

    def test_a_first_migration_that_failed_part_way_is_retried(
        self, old_store: str
    ) -> None:
        """An empty version table (SQLite commits DDL as it goes) does not wedge the store."""

        def half_stamped(conn: Connection) -> None:
            conn.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32))"))

        on_connection(old_store, half_stamped)

        open_and_close(old_store)

        assert on_connection(old_store, current) == head()


class TestCommands:
    def test_db_current_and_upgrade(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`db current` says an old store is unstamped (exit 1); `db upgrade` fixes it."""
        url = f"sqlite+aiosqlite:///{tmp_path / 'governance.db'}"
        on_connection(
            url,
            lambda conn: (
                command.upgrade(alembic_config(conn), BASELINE),
                conn.execute(text("DROP TABLE alembic_version")),
            ),
        )
        config = tmp_path / "govproxy.yaml"
        config.write_text(json.dumps({"store_url": url}), encoding="utf-8")

        before = main(["--config", str(config), "db", "current"])
        upgraded = main(["--config", str(config), "db", "upgrade"])
        after = main(["--config", str(config), "db", "current"])

        out = capsys.readouterr().out
        assert (before, upgraded, after) == (1, 0, 0)
        assert "none (not stamped" in out
        assert out.strip().endswith(head())


_EVENT = text(
    "INSERT INTO consent_events (subject_id, purpose, action, notice_version, method,"
    " channel, scope, kind, grantor, refers_to, event_id, recorded_at, recorded_by)"
    " VALUES ('C1', 'marketing_push', :action, '2026.01', 'click', 'app', '[]',"
    " 'general', 'self', :refers_to, :event_id, CURRENT_TIMESTAMP, 'test')"
)


def add_event(
    conn: Connection, event_id: str, action: str, refers_to: str | None
) -> None:
    conn.execute(
        _EVENT, {"event_id": event_id, "action": action, "refers_to": refers_to}
    )


class TestAnEventIsFollowedOnce:
    """Revision 0004: of two changes made from the same state, the store keeps one."""

    def test_a_second_event_following_the_same_event_is_refused(
        self, store_url: str
    ) -> None:
        open_and_close(store_url)
        on_connection(
            store_url,
            lambda conn: (
                add_event(conn, "g1", "granted", None),
                add_event(conn, "g2", "granted", None),  # events that follow none
                add_event(conn, "w1", "withdrawn", "g1"),
            ),
        )

        with pytest.raises(IntegrityError):
            on_connection(
                store_url, lambda conn: add_event(conn, "w2", "withdrawn", "g1")
            )
        with pytest.raises(IntegrityError):  # a supersession racing the withdrawal
            on_connection(
                store_url, lambda conn: add_event(conn, "s1", "superseded", "g1")
            )
        on_connection(store_url, lambda conn: add_event(conn, "w3", "withdrawn", "g2"))

    def test_an_upgrade_stops_when_the_ledger_already_names_an_event_twice(
        self, store_url: str
    ) -> None:
        """A race before this release left two withdrawals of one grant: the upgrade
        says so and leaves the store at the previous revision."""
        on_connection(
            store_url,
            lambda conn: (
                command.upgrade(alembic_config(conn), "0003"),
                add_event(conn, "g1", "granted", None),
                add_event(conn, "w1", "withdrawn", "g1"),
                add_event(conn, "w2", "withdrawn", "g1"),
            ),
        )

        with pytest.raises(RuntimeError, match="1 consent events are each followed"):
            on_connection(
                store_url, lambda conn: command.upgrade(alembic_config(conn), "head")
            )
        assert on_connection(store_url, current) == "0003"

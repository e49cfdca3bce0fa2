"""A store the CLI cannot use, or a migration that refuses: one line on stderr, exit 2.

Run through `main()` as `govproxy` runs: never a stack trace, never the store's
address or password (a refused connection's `OSError` text quotes the address).
"""

import asyncio
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Connection, text

from adapters.sql.engine import create_engine
from governance.cli.main import main
from governance.schema import alembic_config, current

# Port 1 on the loopback: nothing listens, the connection is refused at once.
REFUSED_URL = "postgresql+asyncpg://govapp:pw-9f3k2@127.0.0.1:1/govstore"
_EVENT = text(
    "INSERT INTO consent_events (subject_id, purpose, action, notice_version, method,"
    " channel, scope, kind, grantor, refers_to, event_id, recorded_at, recorded_by)"
    " VALUES ('C1', 'marketing_push', :action, '2026.01', 'click', 'app', '[]',"
    " 'general', 'self', :refers_to, :event_id, CURRENT_TIMESTAMP, 'test')"
)


def govproxy(capsys, config: Path, *argv: str) -> tuple[int, str, str]:
    """Run one command in-process: exit status, stdout, stderr."""
    code = main(["--config", str(config), *argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_clean_line(err: str) -> None:
    """One line on stderr, no stack trace, nothing of the store's address."""
    assert err.count("\n") == 1, err
    assert err.startswith("govproxy: ")
    assert "Traceback" not in err
    for secret in ("pw-9f3k2", "govapp", "govstore", "127.0.0.1", ":1"):
        assert secret not in err


class TestRefusedStore:
    """A PostgreSQL port that refuses the connection: exit 2, one clean line."""

    @pytest.mark.parametrize(
        "argv", [("db", "upgrade"), ("db", "current"), ("callers", "list")]
    )
    def test_a_refused_connection_is_one_line_and_exit_2(
        self, capsys, monkeypatch, demo_dir, argv
    ):
        """`ConnectionRefusedError` (an `OSError`) names its type and nothing else."""
        monkeypatch.setenv("GOV_STORE_URL", REFUSED_URL)

        code, out, err = govproxy(capsys, demo_dir / "govproxy.yaml", *argv)

        assert (code, out) == (2, "")
        assert_one_clean_line(err)
        assert "the store could not be used (ConnectionRefusedError" in err


class TestRefusedMigration:
    """`db upgrade` over a ledger that migration 0004 refuses: its reason, exit 2."""

    def test_a_refused_upgrade_prints_its_reason_and_exits_2(
        self, capsys, monkeypatch, demo_dir, tmp_path
    ):
        """Two withdrawals of one grant: the refusal's message, and the store stays at 0003."""
        url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
        on_connection(url, _ledger_with_a_double_withdrawal)
        monkeypatch.setenv("GOV_STORE_URL", url)

        code, out, err = govproxy(capsys, demo_dir / "govproxy.yaml", "db", "upgrade")

        assert (code, out) == (2, "")
        assert_one_clean_line(err)
        assert "the store was not upgraded: 1 consent events are each followed" in err
        assert on_connection(url, current) == "0003"


def _ledger_with_a_double_withdrawal(conn: Connection) -> None:
    """A store at revision 0003 whose ledger withdraws one grant twice."""
    command.upgrade(alembic_config(conn), "0003")
    for event_id, action, refers_to in (
        ("g1", "granted", None),
        ("w1", "withdrawn", "g1"),
        ("w2", "withdrawn", "g1"),
    ):
        conn.execute(
            _EVENT, {"event_id": event_id, "action": action, "refers_to": refers_to}
        )


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

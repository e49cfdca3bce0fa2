"""CLI caller administration in the trail: who ran it, and nothing for a no-op."""

import getpass
import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from governance.cli.main import main

ADD = "callers add crm-sync --role service --purpose marketing_push"


@pytest.fixture
def config(demo_dir: Path) -> Path:
    return demo_dir / "govproxy.yaml"


def govproxy(
    capsys: pytest.CaptureFixture[str], config: Path, command: str
) -> tuple[int, str]:
    code = main(["--config", str(config), *command.split()])
    return code, capsys.readouterr().out


def cli_events(config: Path) -> list[tuple[str, dict[str, Any]]]:
    """(kind, detail) of every `caller.*` event the CLI wrote, in order."""
    with closing(sqlite3.connect(config.parent / "governance.db")) as conn:
        rows = conn.execute(
            "SELECT kind, detail FROM audit_events WHERE caller = 'cli'"
            " AND kind LIKE 'caller.%' ORDER BY seq"
        ).fetchall()
    return [(kind, json.loads(detail)) for kind, detail in rows]


def test_each_cli_change_names_the_os_user_who_ran_it(capsys, config):
    """The trail's caller is only `cli`; `os_user` says who, as `audit` commands do."""
    govproxy(capsys, config, ADD)
    govproxy(capsys, config, "callers records-consent crm-sync on")
    govproxy(capsys, config, "callers revoke crm-sync")

    events = cli_events(config)

    assert [kind for kind, _ in events] == [
        "caller.added",
        "caller.changed",
        "caller.revoked",
    ]
    assert {detail["os_user"] for _, detail in events} == {getpass.getuser()}
    assert all(detail["name"] == "crm-sync" for _, detail in events)


def test_records_consent_already_in_that_state_records_nothing_and_says_so(
    capsys, config
):
    """`off` for a caller that does not record consent: exit 0, no event, a
    message saying nothing changed; `on` twice records one change."""
    govproxy(capsys, config, ADD)

    off, said_off = govproxy(capsys, config, "callers records-consent crm-sync off")
    govproxy(capsys, config, "callers records-consent crm-sync on")
    again, said_again = govproxy(capsys, config, "callers records-consent crm-sync on")

    changes = [d for kind, d in cli_events(config) if kind == "caller.changed"]
    assert (off, again) == (0, 0)
    assert "records consent is off already; nothing changed" in said_off
    assert "records consent is on already; nothing changed" in said_again
    assert [d["records_consent"] for d in changes] == [True]

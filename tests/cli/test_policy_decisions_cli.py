"""`govproxy policy decisions`: the decision log as JSON lines, checked against the trail."""

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from factories import auth, subjects
from fastapi.testclient import TestClient

from governance.app import create_app
from governance.cli.main import main

OPA_KEYS = {"decision_id", "path", "input", "result", "revision", "labels", "timestamp"}


@pytest.fixture
def traffic(demo_settings, keys, demo_dir: Path) -> list[str]:
    """Decision ids of governed calls the policy decided, oldest first."""
    sid = subjects(demo_dir, minor=False)[3]
    app = auth(keys["brand-app"], "order_fulfilment")
    sms = auth(keys["campaign-sms"], "marketing_push")
    with TestClient(create_app(demo_settings)) as client:
        answers = [
            client.get(f"/v1/datasets/customers/records/{sid}", headers=app),
            client.get(
                f"/v1/datasets/customers/records/{sid}?fields=bank_card", headers=app
            ),
            client.post(
                "/v1/datasets/customers/query",
                headers=sms,
                json={"fields": ["mobile"], "where": {"tags_any": ["高消费"]}},
            ),
        ]
    return [a.json()["decision_id"] for a in answers]


def export(capsys, demo_dir: Path, *args: str) -> tuple[int, list[dict], str]:
    """Run the export; its exit status, parsed lines and stderr."""
    capsys.readouterr()  # what the proxy logged while serving the traffic
    code = main(
        ["--config", str(demo_dir / "govproxy.yaml"), "policy", "decisions", *args]
    )
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err


def test_every_decision_is_one_json_line_in_opa_shape(capsys, demo_dir, traffic):
    """Each decided call is one line, oldest first, with the OPA decision log keys."""
    code, lines, err = export(capsys, demo_dir)

    assert (code, err) == (0, "")
    assert [line["decision_id"] for line in lines] == traffic
    assert all(set(line) >= OPA_KEYS for line in lines)
    assert lines[2]["admissions"]["admitted"] > 0


def test_caller_filter_exports_that_callers_decisions(capsys, demo_dir, traffic):
    """`--caller campaign-sms` exports only the SMS sender's query."""
    code, lines, _ = export(capsys, demo_dir, "--caller", "campaign-sms")

    assert code == 0
    assert [line["decision_id"] for line in lines] == traffic[2:]


def test_a_window_after_every_decision_exports_nothing(capsys, demo_dir, traffic):
    """`--since` after the last decision gives no lines."""
    assert export(capsys, demo_dir, "--since", "2999-01-01") == (0, [], "")


def test_when_a_stored_result_was_altered_then_exit_1_naming_it(
    capsys, demo_dir, traffic
):
    """A decision whose stored result no longer matches its audited shape id is named."""
    with closing(sqlite3.connect(demo_dir / "governance.db")) as conn:
        (shape,) = conn.execute(
            "SELECT decision_shape FROM audit_events WHERE decision_id = ?",
            (traffic[1],),
        ).fetchone()
        conn.execute(
            "UPDATE decision_shapes SET result = replace(result, 'false', 'true')"
            " WHERE shape_id = ?",
            (shape,),
        )
        conn.commit()

    code, lines, err = export(capsys, demo_dir)

    assert code == 1
    assert len(lines) == 3
    assert f"decision {traffic[1]} " in err
    assert f"shape {shape}: altered" in err


def test_a_bad_since_exits_2_with_a_reason(capsys, demo_dir):
    """An unreadable time is refused in one line."""
    code = main(
        [
            "--config",
            str(demo_dir / "govproxy.yaml"),
            "policy",
            "decisions",
            "--since",
            "soon",
        ]
    )

    assert code == 2
    assert "--since must be an ISO 8601 date or time" in capsys.readouterr().err


def test_help_lists_what_each_line_holds(capsys):
    """`--help` names the filters and the keys of a line."""
    with pytest.raises(SystemExit) as exited:
        main(["policy", "decisions", "--help"])

    out = capsys.readouterr().out
    assert exited.value.code == 0
    assert all(
        word in out for word in ("--since", "--caller", "decision_id", "admissions")
    )

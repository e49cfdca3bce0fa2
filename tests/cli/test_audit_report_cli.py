"""`govproxy audit report`: build the self-check from the store, audit it, write the files."""

import asyncio
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import orjson
import pytest
from report_trail import append, cst, forge_allowed_read, seed_march

from adapters.keys.local import LocalKeyProvider
from audit.record import AuditDraft
from governance.cli.main import main
from governance.services import subject_referencer
from governance.store import open_store

Ref = Callable[[str], str]


@pytest.fixture
def seeded_demo(demo_dir: Path) -> Ref:
    """The demo store with the seeded March 2026 added; its subject referencer."""
    ref = subject_referencer(
        LocalKeyProvider(demo_dir / "keys.json").key("subject_ref")[1]
    )

    async def seed() -> None:
        store = await open_store(f"sqlite+aiosqlite:///{demo_dir / 'governance.db'}")
        try:
            await seed_march(store, ref)
        finally:
            await store.dispose()

    asyncio.run(seed())
    return ref


def govproxy(capsys: pytest.CaptureFixture[str], demo_dir: Path, *args: str):
    """Run one command in-process on the demo's settings: exit status, stdout, stderr."""
    code = main(["--config", str(demo_dir / "govproxy.yaml"), *args])
    out, err = capsys.readouterr()
    return code, out, err


def report_events(demo_dir: Path) -> list[tuple[str, dict[str, object]]]:
    """(caller, detail) of every `audit.report` event in the demo store."""
    with closing(sqlite3.connect(demo_dir / "governance.db")) as conn:
        rows = conn.execute(
            "SELECT caller, detail FROM audit_events WHERE kind = 'audit.report'"
        ).fetchall()
    return [(caller, orjson.loads(detail)) for caller, detail in rows]


def test_the_report_is_written_as_html_and_json_and_audited(
    capsys, demo_dir, seeded_demo, tmp_path
):
    """Both files, a three-line summary, exit 0 and one `audit.report` event by `cli`."""
    html, json_file = tmp_path / "march.html", tmp_path / "march.json"

    code, out, err = govproxy(
        capsys, demo_dir, "audit", "report", "--month", "2026-03",
        "--html", str(html), "--json", str(json_file),
    )  # fmt: skip

    with closing(sqlite3.connect(demo_dir / "governance.db")) as conn:
        events = conn.execute("SELECT count(*) FROM audit_events").fetchone()[0]
        chains = conn.execute("SELECT count(*) FROM audit_chains").fetchone()[0]
    assert (code, err) == (0, "")
    assert out.splitlines()[:3] == [
        "self-check 2026-03 (Beijing time): 1,699 accesses (8 denied), 52 subjects",
        "sensitive categories released 7 times; 4 withdrawals, 0 accesses allowed"
        " after a withdrawal",
        f"volume: 1 flagged days, 2 new callers; trail intact: {events - 1:,} events"
        f" in {chains - 1} chains",  # the report's own writer adds a chain
    ]
    assert html.read_text(encoding="utf-8").startswith("<!doctype html>")
    assert orjson.loads(json_file.read_bytes())["accesses"]["total"]["total"] == 1699
    assert report_events(demo_dir) == [
        (
            "cli",
            {
                "month": "2026-03",
                "formats": ["html", "json"],
                "chain_ok": True,
                "allowed_after_withdrawal": 0,
            },
        )
    ]
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind


def test_an_access_allowed_after_a_withdrawal_exits_1(
    capsys, demo_dir, seeded_demo, tmp_path
):
    """The breach is reported and written, and the exit status says to look."""

    async def forge() -> None:
        store = await open_store(f"sqlite+aiosqlite:///{demo_dir / 'governance.db'}")
        try:
            await forge_allowed_read(store, seeded_demo, "W000004", cst(20, 15))
        finally:
            await store.dispose()

    asyncio.run(forge())
    page = tmp_path / "march.html"

    code, out, _ = govproxy(
        capsys, demo_dir, "audit", "report", "--month", "2026-03", "--html", str(page)
    )

    assert code == 1
    assert "1 accesses allowed after a withdrawal" in out
    assert "撤回同意之后却被允许" in page.read_text(encoding="utf-8")


@pytest.mark.parametrize("month", ["2026-13", "abc", "2099-01"])
def test_when_the_month_is_bad_then_exit_2_and_nothing_is_done(
    capsys, demo_dir, tmp_path, month
):
    """A bad month is named on stderr; no file, no audit event."""
    page = tmp_path / "page.html"

    code, out, err = govproxy(
        capsys, demo_dir, "audit", "report", "--month", month, "--html", str(page)
    )

    assert (code, out) == (2, "")
    assert err.startswith("govproxy: ")
    assert "YYYY-MM" in err or "month" in err
    assert not page.exists()
    assert report_events(demo_dir) == []


def test_when_the_output_folder_is_missing_then_exit_2_before_any_work(
    capsys, demo_dir, tmp_path
):
    """An output path in a folder that does not exist is refused up front."""
    code, _, err = govproxy(
        capsys, demo_dir, "audit", "report", "--month", "2026-03",
        "--json", str(tmp_path / "absent" / "r.json"),
    )  # fmt: skip

    assert code == 2
    assert "--json" in err
    assert report_events(demo_dir) == []


def test_the_summary_counts_refusals_outside_data_access(capsys, demo_dir, seeded_demo):
    """A service key probing the trail shows up in the shell summary, by kind."""
    probes = [
        AuditDraft(kind="caller.role", outcome="denied", caller="campaign-sms",
                   reason="forbidden_role", ts=cst(12, 9 + n))
        for n in range(2)
    ]  # fmt: skip

    async def probe() -> None:
        store = await open_store(f"sqlite+aiosqlite:///{demo_dir / 'governance.db'}")
        try:
            await append(store, probes)
        finally:
            await store.dispose()

    asyncio.run(probe())
    code, out, _ = govproxy(capsys, demo_dir, "audit", "report", "--month", "2026-03")

    assert code == 0
    assert out.splitlines()[3] == "refused outside data access: 2 (caller.role 2)"

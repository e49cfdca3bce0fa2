"""Consent import from CSV: what a good file stores, and how it meets the ledger.

Runs `governance.consent.importer` on a copy of the demo deployment; the
command line and each kind of bad input are covered in
tests/cli/test_consent_import_cli.py.
"""

import asyncio
import hashlib
import json
import sqlite3
import time
import uuid
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from factories import auth, subjects

from adapters.keys.local import LocalKeyProvider
from adapters.sql.engine import create_engine
from audit.verify import verify_trail
from governance.catalog import load_catalog
from governance.consent import import_lookups, importer
from governance.consent.csvfile import COLUMNS
from governance.consent.import_records import time_ordered_ids
from governance.consent.ledger import ConsentLedger
from governance.errors import Conflict
from governance.services import subject_referencer
from governance.settings import Settings
from governance.store import open_store
from governance.types import ConsentState

GRANTED_AT = "2026-03-01T08:00:00+08:00"
EVIDENCE = "AB" * 32


def csv_text(*rows: dict[str, str], columns: tuple[str, ...] = COLUMNS) -> str:
    """A consent CSV of `rows` (missing columns empty)."""
    lines = [",".join(columns)]
    lines += [",".join(row.get(c, "") for c in columns) for row in rows]
    return "\n".join(lines) + "\n"


def grant_row(
    subject_id: str, purpose: str = "analytics", **extra: str
) -> dict[str, str]:
    """A valid row for `purpose` (marketing gets its declared frequency)."""
    row = {
        "subject_id": subject_id,
        "purpose": purpose,
        "notice_version": "2026.01",
        "method": "click",
        "channel": "app",
        "granted_at": GRANTED_AT,
    }
    if purpose == "marketing_push":
        row["declared_frequency"] = "4/month"
    if purpose == "maternal_care_recommendation":
        row["kind"] = "separate"
    return row | extra


def sql(db: Path, query: str, *params: Any) -> list[tuple[Any, ...]]:
    """Rows of a raw SQL query against an SQLite file."""
    with closing(sqlite3.connect(db)) as conn:
        return conn.execute(query, params).fetchall()


def without_events(demo_dir: Path, purpose: str) -> list[str]:
    """Adults who never had a consent event for `purpose`."""
    touched = {
        s
        for (s,) in sql(
            demo_dir / "governance.db",
            "SELECT subject_id FROM consent_events WHERE purpose = ?",
            purpose,
        )
    }
    return [s for s in subjects(demo_dir, minor=False) if s not in touched]


def latest_state(demo_dir: Path, purpose: str, action: str) -> list[tuple[str, str]]:
    """(subject, event id) of adults whose latest `purpose` state event is `action`."""
    latest: dict[str, tuple[str, str]] = {}
    for subject, act, event_id in sql(
        demo_dir / "governance.db",
        "SELECT subject_id, action, event_id FROM consent_events WHERE purpose = ?"
        " AND action IN ('granted', 'withdrawn', 'expired') ORDER BY id",
        purpose,
    ):
        latest[subject] = (act, event_id)
    adults = set(subjects(demo_dir, minor=False))
    return [(s, e) for s, (a, e) in latest.items() if a == action and s in adults]


def commit_plan(settings: Settings, plan: importer.ImportPlan) -> None:
    """Commit a plan checked earlier, as `govproxy consent import` does."""

    async def commit() -> None:
        store = await open_store(settings.store_url)
        key = LocalKeyProvider(settings.keys_file).key("subject_ref")[1]
        try:
            await importer.commit(plan, store, subject_referencer(key))
        finally:
            await store.dispose()

    asyncio.run(commit())


def run_import(
    settings: Settings, path: Path, *, now: datetime | None = None, commit: bool = True
) -> importer.ImportPlan:
    """Check `path` and, if it is good and `commit`, import it."""

    async def work() -> importer.ImportPlan:
        catalog = load_catalog(settings.catalog_file)
        store = await open_store(settings.store_url)
        sources = {n: create_engine(u) for n, u in catalog.sources.items()}
        try:
            plan = await importer.check_file(
                path,
                catalog=catalog,
                store=store,
                sources=sources,
                encoding="auto",
                now=now or datetime.now(UTC),
            )
            if plan.ok and commit:
                key = LocalKeyProvider(settings.keys_file).key("subject_ref")[1]
                await importer.commit(plan, store, subject_referencer(key))
            return plan
        finally:
            for engine in sources.values():
                await engine.dispose()
            await store.dispose()

    return asyncio.run(work())


def counts(demo_dir: Path) -> tuple[int, int]:
    """(consent events, audit events) in the governance store."""
    db = demo_dir / "governance.db"
    return (
        sql(db, "SELECT count(*) FROM consent_events")[0][0],
        sql(db, "SELECT count(*) FROM audit_events")[0][0],
    )


@pytest.fixture
def good_file(demo_dir: Path, tmp_path: Path) -> Path:
    """Three grants: analytics by default scope, marketing with all columns, separate."""
    free = without_events(demo_dir, "marketing_push")
    path = tmp_path / "crm-export.csv"
    path.write_text(
        csv_text(
            grant_row(free[0]),
            grant_row(
                free[1],
                "marketing_push",
                scope="identity.customer_id|contact.phone",
                expires_at="2099-01-01T00:00:00Z",
                evidence_hash=EVIDENCE,
                method="checkbox",
                channel="mini_program",
            ),
            grant_row(free[2], "maternal_care_recommendation"),
        ),
        encoding="utf-8",
    )
    return path


class TestGoodFile:
    def test_every_row_is_stored_as_a_grant_recorded_when_consent_was_given(
        self, demo_dir, demo_settings, good_file
    ):
        """recorded_at is granted_at in UTC; recorded_by names the file; terms as given."""
        plan = run_import(demo_settings, good_file)

        stored = sql(
            demo_dir / "governance.db",
            "SELECT subject_id, purpose, action, recorded_at, recorded_by, scope, kind,"
            " evidence_hash, expires_at, declared_frequency FROM consent_events"
            " WHERE recorded_by = 'import:crm-export.csv' ORDER BY id",
        )
        assert len(plan.rows) == len(stored) == 3
        assert {r[2] for r in stored} == {"granted"}
        assert {r[3] for r in stored} == {"2026-03-01 00:00:00.000000"}
        analytics, marketing, maternal = stored
        catalog = load_catalog(demo_settings.catalog_file)
        notice = catalog.notice("analytics", "2026.01")
        assert notice is not None
        assert json.loads(analytics[5]) == sorted(notice.categories)
        assert json.loads(marketing[5]) == ["contact.phone", "identity.customer_id"]
        assert marketing[7:] == ("ab" * 32, "2099-01-01 00:00:00.000000", "4/month")
        assert maternal[6] == "separate"

    def test_each_consent_has_its_audit_event_and_the_file_a_summary(
        self, demo_dir, demo_settings, good_file
    ):
        """One consent.granted per row (subject as keyed hash), one consent.imported."""
        run_import(demo_settings, good_file)

        events = sql(
            demo_dir / "governance.db",
            "SELECT kind, purpose, subject_ref, detail FROM audit_events"
            " WHERE caller = 'import:crm-export.csv' ORDER BY seq",
        )
        key = LocalKeyProvider(demo_settings.keys_file).key("subject_ref")[1]
        ref = subject_referencer(key)
        consents = sql(
            demo_dir / "governance.db",
            "SELECT subject_id, purpose, event_id FROM consent_events"
            " WHERE recorded_by = 'import:crm-export.csv' ORDER BY id",
        )
        assert [e[0] for e in events] == ["consent.granted"] * 3 + ["consent.imported"]
        for line, (event, consent) in enumerate(zip(events, consents, strict=False), 2):
            assert event[1:3] == (consent[1], ref(consent[0]))
            assert json.loads(event[3]) == {
                "notice_version": "2026.01",
                "kind": "separate" if line == 4 else "general",
                "source": "csv",
                "line": line,
                "consent_event_ids": [consent[2]],
            }
        summary = json.loads(events[-1][3])
        digest = hashlib.sha256(good_file.read_bytes()).hexdigest()
        assert summary == {
            "file": "crm-export.csv",
            "rows": 3,
            "sha256": digest,
            "superseded": 0,
        }
        assert consents[0][0] not in events[0][2]

    def test_a_subject_on_several_lines_is_named_by_its_own_hash_each_time(
        self, demo_dir, demo_settings, tmp_path
    ):
        """Rows of one subject, between rows of another: every audit event names
        the subject of its own row."""
        free = set(without_events(demo_dir, "analytics"))
        a, b = [s for s in without_events(demo_dir, "marketing_push") if s in free][:2]
        path = tmp_path / "crm-export.csv"
        rows = [grant_row(a), grant_row(b), grant_row(a, "marketing_push")]
        path.write_text(csv_text(*rows), encoding="utf-8")

        run_import(demo_settings, path)

        events = sql(
            demo_dir / "governance.db",
            "SELECT purpose, subject_ref FROM audit_events"
            " WHERE caller = 'import:crm-export.csv' AND kind = 'consent.granted'"
            " ORDER BY seq",
        )
        key = LocalKeyProvider(demo_settings.keys_file).key("subject_ref")[1]
        ref = subject_referencer(key)
        assert events == [
            ("analytics", ref(a)),
            ("analytics", ref(b)),
            ("marketing_push", ref(a)),
        ]

    def test_the_audit_trail_still_verifies(self, demo_settings, good_file):
        """The import's events extend the hash chains without a break."""
        run_import(demo_settings, good_file)

        async def verify() -> bool:
            store = await open_store(demo_settings.store_url)
            try:
                return (await verify_trail(store)).ok
            finally:
                await store.dispose()

        assert asyncio.run(verify())

    def test_imported_consent_permits_a_governed_read(
        self, client, keys, demo_dir, demo_settings, good_file
    ):
        """The marketing consent of the file lets the SMS sender read the subject."""
        free = without_events(demo_dir, "marketing_push")[1]
        record = f"/v1/datasets/customers/records/{free}"
        headers = auth(keys["campaign-sms"], "marketing_push")
        assert client.get(record, headers=headers).status_code == 403

        run_import(demo_settings, good_file)

        response = client.get(record, headers=headers)
        assert response.status_code == 200, response.text
        assert response.json()["record"]["customer_id"] == free

    def test_dry_check_writes_nothing(self, demo_dir, demo_settings, good_file):
        """Checking alone leaves the store as it was."""
        before = counts(demo_dir)

        plan = run_import(demo_settings, good_file, commit=False)

        assert plan.ok
        assert counts(demo_dir) == before

    def test_ids_are_chunked_for_every_lookup(
        self, demo_dir, demo_settings, tmp_path, monkeypatch
    ):
        """Subjects and ledger states are read in chunks; every chunk counts."""
        monkeypatch.setattr(import_lookups, "CHUNK", 7)
        free = without_events(demo_dir, "analytics")[:30]
        path = tmp_path / "many.csv"
        path.write_text(
            csv_text(*(grant_row(s) for s in free), grant_row("C999999")),
            encoding="utf-8",
        )

        plan = run_import(demo_settings, path)

        assert [(p.line, p.reason) for p in plan.problems] == [
            (32, "unknown subject: no catalogued dataset holds it")
        ]

    def test_a_childs_own_consent_is_refused_and_a_guardians_imported(
        self, demo_dir, demo_settings, tmp_path
    ):
        """Under 14 by the birth date: only a guardian's consent is a consent (M-01)."""
        child, other = subjects(demo_dir, minor=True)[:2]
        guardian = {"kind": "guardian", "grantor": "guardian"}
        path = tmp_path / "children.csv"
        path.write_text(
            csv_text(grant_row(child), grant_row(other, **guardian)),
            encoding="utf-8",
        )
        before = counts(demo_dir)

        plan = run_import(demo_settings, path)

        assert [(p.line, p.reason) for p in plan.problems] == [
            (
                2,
                "the subject is under 14: only a guardian can consent for them"
                " (kind guardian, grantor guardian)",
            )
        ]
        assert counts(demo_dir) == before

    def test_a_child_whose_birth_date_is_blank_is_told_by_the_id_number(
        self, demo_dir, demo_settings, tmp_path
    ):
        """As on a read (M-02): a blank birth date does not make a child an adult."""
        child = subjects(demo_dir, minor=True)[0]
        with closing(sqlite3.connect(demo_dir / "customers.db")) as conn, conn:
            conn.execute(
                "UPDATE customers SET birth_date = '' WHERE customer_id = ?", (child,)
            )
        path = tmp_path / "blank.csv"
        path.write_text(csv_text(grant_row(child)), encoding="utf-8")

        plan = run_import(demo_settings, path, commit=False)

        assert [p.line for p in plan.problems] == [2]
        assert "under 14" in plan.problems[0].reason


class TestAgainstTheLedger:
    def test_a_live_grant_is_superseded_and_the_import_decides(
        self, demo_dir, demo_settings, tmp_path
    ):
        """The live grant gets a superseded event; the imported grant is current."""
        subject, old_event = latest_state(demo_dir, "analytics", "granted")[0]
        path = tmp_path / "renewal.csv"
        path.write_text(
            csv_text(grant_row(subject, scope="identity.customer_id")), encoding="utf-8"
        )

        plan = run_import(demo_settings, path)

        assert list(plan.supersedes) == [2]
        actions = sql(
            demo_dir / "governance.db",
            "SELECT action, refers_to, event_id FROM consent_events"
            " WHERE subject_id = ? AND purpose = 'analytics' ORDER BY id",
            subject,
        )
        assert [a[:2] for a in actions[-2:]] == [
            ("superseded", old_event),
            ("granted", None),
        ]
        record = self._current(demo_settings, subject, "analytics")
        assert record.state is ConsentState.GRANTED
        assert record.event_id == actions[-1][2]
        assert record.scope == {"identity.customer_id"}

    def test_a_grant_ended_between_check_and_commit_stops_the_whole_import(
        self, demo_dir, demo_settings, tmp_path
    ):
        """The file was checked against a live grant that a withdrawal then ended:
        superseding it too would end it twice, so nothing is imported."""
        (subject, old_event), (other, _) = latest_state(
            demo_dir, "analytics", "granted"
        )[:2]
        path = tmp_path / "renewal.csv"
        path.write_text(
            csv_text(grant_row(subject), grant_row(other)), encoding="utf-8"
        )
        plan = run_import(demo_settings, path, commit=False)
        with closing(sqlite3.connect(demo_dir / "governance.db")) as conn:
            conn.execute(
                "INSERT INTO consent_events (subject_id, purpose, action,"
                " notice_version, method, channel, scope, kind, grantor, refers_to,"
                " event_id, recorded_at, recorded_by) SELECT subject_id, purpose,"
                " 'withdrawn', notice_version, 'user_request', 'app', scope, kind,"
                " grantor, event_id, 'w-meanwhile', CURRENT_TIMESTAMP, 'test'"
                " FROM consent_events WHERE event_id = ?",
                (old_event,),
            )
            conn.commit()
        before = counts(demo_dir)

        with pytest.raises(Conflict, match="nothing was imported"):
            commit_plan(demo_settings, plan)
        assert counts(demo_dir) == before
        assert self._current(demo_settings, subject, "analytics").state is (
            ConsentState.WITHDRAWN
        )

    @pytest.mark.parametrize("meanwhile", ["granted", "granted-and-withdrawn"])
    def test_consent_given_during_the_import_stops_it_and_stands(
        self, demo_dir, demo_settings, tmp_path, client, keys, meanwhile
    ):
        """A subject with no consent at the check grants (and withdraws) through
        the app before the commit: the file's older grant must not undo that, so
        nothing is imported and the app's answer stands (C-09)."""
        subject, other = without_events(demo_dir, "analytics")[:2]
        path = tmp_path / "migration.csv"
        path.write_text(
            csv_text(grant_row(subject), grant_row(other)), encoding="utf-8"
        )
        plan = run_import(demo_settings, path, commit=False)
        base = f"/v1/subjects/{subject}/consents"
        given = client.post(
            base,
            json={"purpose": "analytics", "notice_version": "2026.01",
                  "method": "click", "channel": "app",
                  "evidence": {"screen": "opt-in-v3"}},
            headers=auth(keys["brand-app"]),
        )  # fmt: skip
        if meanwhile == "granted-and-withdrawn":
            client.post(f"{base}/analytics/withdraw", headers=auth(keys["brand-app"]))
        before = counts(demo_dir)

        with pytest.raises(Conflict, match="nothing was imported"):
            commit_plan(demo_settings, plan)
        assert given.status_code == 201
        assert counts(demo_dir) == before
        expected = meanwhile.rsplit("-", 1)[-1]
        assert self._current(demo_settings, subject, "analytics").state.value == (
            expected
        )

    def test_each_superseded_event_names_its_own_subject_and_grant(
        self, demo_dir, demo_settings, tmp_path
    ):
        """Rows with the same terms share how their superseded events are built,
        never whose they are: subject, replaced grant and instant are each row's."""
        live = latest_state(demo_dir, "analytics", "granted")[:3]
        instants = ["2026-03-01T10:00:00+08:00", "2026-03-02T10:00:00+08:00"]
        path = tmp_path / "renewals.csv"
        path.write_text(
            csv_text(
                *(
                    grant_row(subject, granted_at=instants[i % 2])
                    for i, (subject, _) in enumerate(live)
                )
            ),
            encoding="utf-8",
        )

        run_import(demo_settings, path)

        ended = sql(
            demo_dir / "governance.db",
            "SELECT subject_id, refers_to, recorded_at, scope, kind, grantor,"
            " expires_at, evidence_hash, recorded_by FROM consent_events"
            " WHERE action = 'superseded' AND recorded_by LIKE 'import:%' ORDER BY id",
        )
        assert [e[:3] for e in ended] == [
            (subject, grant, f"2026-03-0{i % 2 + 1} 02:00:00.000000")
            for i, (subject, grant) in enumerate(live)
        ]
        assert {e[3:] for e in ended} == {
            ("[]", "general", "self", None, None, "import:renewals.csv")
        }

    def test_a_later_withdrawal_stands(self, demo_dir, demo_settings, tmp_path):
        """A grant older than a recorded withdrawal is refused; nothing is written."""
        subject, _ = latest_state(demo_dir, "analytics", "withdrawn")[0]
        path = tmp_path / "stale.csv"
        path.write_text(csv_text(grant_row(subject)), encoding="utf-8")
        before = counts(demo_dir)

        plan = run_import(demo_settings, path)

        assert [p.line for p in plan.problems] == [2]
        assert "withdrawal" in plan.problems[0].reason
        assert counts(demo_dir) == before

    def test_a_grant_after_the_withdrawal_is_a_new_consent(
        self, demo_dir, demo_settings, tmp_path
    ):
        """Consent given again after withdrawing is imported and current."""
        subject, _ = latest_state(demo_dir, "analytics", "withdrawn")[0]
        later = datetime.now(UTC) + timedelta(hours=1)
        path = tmp_path / "again.csv"
        path.write_text(
            csv_text(grant_row(subject, granted_at=later.isoformat())),
            encoding="utf-8",
        )

        plan = run_import(demo_settings, path, now=later + timedelta(minutes=1))

        assert plan.ok
        record = self._current(demo_settings, subject, "analytics")
        assert record.state is ConsentState.GRANTED

    def test_a_withdrawal_behind_a_later_grant_still_stands(
        self, demo_dir, demo_settings, tmp_path
    ):
        """Withdrawn, then granted again: a row older than the withdrawal is
        still refused, though the ledger's latest state is now a grant."""
        subject, _ = latest_state(demo_dir, "analytics", "withdrawn")[0]
        later = datetime.now(UTC) + timedelta(hours=1)
        again, older = tmp_path / "again.csv", tmp_path / "older.csv"
        again.write_text(
            csv_text(grant_row(subject, granted_at=later.isoformat())),
            encoding="utf-8",
        )
        older.write_text(
            csv_text(grant_row(subject, granted_at="2026-03-01T10:00:00+08:00")),
            encoding="utf-8",
        )
        assert run_import(demo_settings, again, now=later + timedelta(minutes=1)).ok
        before = counts(demo_dir)

        plan = run_import(demo_settings, older, now=later + timedelta(minutes=2))

        assert [p.line for p in plan.problems] == [2]
        assert "withdrawal" in plan.problems[0].reason
        assert counts(demo_dir) == before

    @staticmethod
    def _current(settings: Settings, subject: str, purpose: str) -> Any:
        async def read() -> Any:
            store = await open_store(settings.store_url)
            try:
                return await ConsentLedger(store).current(
                    subject, purpose, now=datetime.now(UTC) + timedelta(days=1)
                )
            finally:
                await store.dispose()

        return asyncio.run(read())


def test_bulk_ids_are_distinct_increasing_version_7_uuids():
    """The bulk id source gives canonical UUIDs (RFC 9562 version 7), each after
    the one before, stamped with the current millisecond."""
    before = time.time_ns() // 1_000_000
    ids = list(time_ordered_ids(300_007))  # past the counter's first 18 bits
    after = time.time_ns() // 1_000_000

    assert len(set(ids)) == len(ids) == 300_007  # a last block of 7
    assert ids == sorted(ids)
    parsed = [uuid.UUID(i) for i in ids]
    assert all(str(u) == i for u, i in zip(parsed, ids, strict=True))
    assert {(u.version, u.variant) for u in parsed} == {(7, uuid.RFC_4122)}
    assert {u.int >> 80 for u in parsed} <= set(range(before, after + 1))


def test_plan_repr_names_no_subject(demo_settings, good_file):
    """A plan in a log or traceback shows counts, never subject ids."""
    plan = run_import(demo_settings, good_file, commit=False)

    assert repr(plan) == (
        "ImportPlan(file='crm-export.csv', rows=3, problems=0, supersedes=0)"
    )

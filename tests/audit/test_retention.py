"""Retention over a real store: floors hold, lapsed consent histories go, tombstones verify."""

import asyncio
import sqlite3
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import insert, update
from sqlmodel import col

from audit.checkpoint_task import Sealer
from audit.models import AuditChain
from audit.purges import (
    EMPTIED,
    PurgeFault,
    check_purges,
    purge_digest,
    record_payload,
)
from audit.record import AuditDraft, canonical_json
from audit.retention import Purger, PurgeReport, RetentionPolicy
from audit.signing import AuditSigner
from audit.verify import VerifyReport, verify_trail
from audit.writer import AuditWriter
from governance.consent.ledger import ConsentAction, ConsentChange
from governance.consent.models import ConsentEvent
from governance.errors import ConfigurationError
from governance.services import subject_referencer
from governance.settings import load_settings
from governance.store import open_store

NOW = datetime(2026, 12, 1, tzinfo=UTC)


class _Keys:
    """A key provider holding one fixed audit signing key (v1)."""

    def key(self, name: str) -> tuple[str, bytes]:
        """The only version of `name`."""
        return "v1", b"\x01" * 32

    def versions(self, name: str) -> dict[str, bytes]:
        """Every version of `name`: just v1."""
        return {"v1": b"\x01" * 32}


KEYS = _Keys()
SIGNER = AuditSigner.from_keys(KEYS)
REF = subject_referencer(b"\x02" * 32)
SHARING = "third_party_sharing"


def days_ago(days: float) -> datetime:
    """The instant `days` before NOW."""
    return NOW - timedelta(days=days)


def ts(moment: datetime) -> str:
    """An instant in the trail's fixed-width form."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def access(
    age: float,
    purpose: str = "marketing_push",
    subject: str = "c1",
    *,
    recipient: str | None = None,
) -> AuditDraft:
    """A governed read of `subject`, `age` days old, provided to `recipient` if named."""
    detail = (
        {}
        if recipient is None
        else {"recipient": {"name": recipient, "registered": True, "country": "CN"}}
    )
    return AuditDraft(
        kind="access.read",
        outcome="allowed",
        caller="campaign-sms",
        purpose=purpose,
        dataset="customers",
        subject_ref=REF(subject),
        fields=("mobile",),
        detail=detail,
        ts=ts(days_ago(age)),
    )


def consent_draft(kind: str, subject: str, purpose: str, age: float) -> AuditDraft:
    """The audit event of a consent change, `age` days old."""
    return AuditDraft(
        kind=kind,
        outcome="allowed",
        caller="brand-app",
        purpose=purpose,
        subject_ref=REF(subject),
        ts=ts(days_ago(age)),
    )


def change(subject: str, purpose: str, action: ConsentAction, age: float) -> Any:
    """The ledger insert of a consent event recorded `age` days ago."""
    event = ConsentChange(
        subject_id=subject,
        purpose=purpose,
        action=action,
        notice_version="2026.01",
        method="tap",
        channel="app",
        recorded_by="brand-app",
    )
    return insert(ConsentEvent).values(
        **event.values(f"{subject}-{purpose}-{action.value}-{age}", days_ago(age))
    )


class Store:
    """A real SQLite governance store with a running audit writer."""

    def __init__(self, db: Path) -> None:
        self.db = db

    def run(self, work: Callable[[Any, AuditWriter], Any]) -> Any:
        """Run `work(store, writer)` against the store."""

        async def scenario() -> Any:
            store = await open_store(f"sqlite+aiosqlite:///{self.db}")
            writer = AuditWriter(store)
            await writer.start()
            try:
                return await work(store, writer)
            finally:
                await writer.stop()
                await store.dispose()

        return asyncio.run(scenario())

    def append(self, *drafts: AuditDraft, also: list[Any] | None = None) -> None:
        """Commit drafts (and ledger statements) through the real writer, whose
        chain then reads as begun by its oldest draft: a trail written over time."""

        async def work(store: Any, writer: AuditWriter) -> None:
            await writer.append_all(list(drafts), also=also or [])
            async with store.begin() as conn:
                await conn.execute(
                    update(AuditChain)
                    .where(col(AuditChain.chain_id) == writer.chain_id)
                    .values(started_at=min(d.ts for d in drafts))
                )

        self.run(work)

    def purge(
        self, policy: RetentionPolicy | None = None, *, dry: bool = False
    ) -> PurgeReport:
        """Run retention at NOW."""

        async def work(store: Any, writer: AuditWriter) -> PurgeReport:
            purger = Purger(
                store,
                writer,
                SIGNER,
                policy=policy or RetentionPolicy(),
                third_party_purposes=frozenset({SHARING}),
                subject_ref=REF,
                batch=3,
            )
            return await purger.run(now=NOW, dry_run=dry)

        return self.run(work)

    def check(self, pem: str | None = None) -> PurgeFault | None:
        """check_purges with the signer's (or the given) public key."""

        async def work(store: Any, _: AuditWriter) -> PurgeFault | None:
            async with store.connect() as conn:
                return await check_purges(conn, [pem or SIGNER.public_pem()])

        return self.run(work)

    def verified(self) -> bool:
        """Whether the chains verify."""

        async def work(store: Any, _: AuditWriter) -> bool:
            return (await verify_trail(store)).ok

        return self.run(work)

    def seal(self) -> None:
        """Seal every committed event into a signed checkpoint (with SIGNER's key)."""

        async def work(store: Any, _: AuditWriter) -> None:
            await Sealer(store, KEYS, interval=0).seal_now()

        self.run(work)

    def full_verify(self) -> VerifyReport:
        """verify_trail with the audit public key: chains, checkpoints, purges."""

        async def work(store: Any, _: AuditWriter) -> VerifyReport:
            return await verify_trail(store, public_keys=[SIGNER.public_pem()])

        return self.run(work)

    def sql(self, query: str, *params: object) -> list[tuple[Any, ...]]:
        """Rows of a raw query."""
        with closing(sqlite3.connect(self.db)) as conn:
            return conn.execute(query, params).fetchall()

    def whole(self, kind: str = "access.read") -> int:
        """How many events of `kind` are still whole (not tombstoned)."""
        return self.sql(
            "SELECT count(*) FROM audit_events WHERE kind = ?"
            " AND detail NOT LIKE '{\"purged_by\":%'",
            kind,
        )[0][0]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    """An empty store."""
    return Store(tmp_path / "governance.db")


class TestFloors:
    def test_access_events_younger_than_180_days_survive_a_shorter_policy(
        self, store: Store
    ) -> None:
        """Even a policy asking for 30 days keeps every access event under 180 days old."""
        store.append(access(30), access(100), access(179.9), access(181), access(400))

        report = store.purge(RetentionPolicy(access_days=30))

        assert report.events == 2
        assert store.whole() == 3

    def test_settings_below_a_floor_are_refused(self, tmp_path: Path) -> None:
        """A config asking for 90 days of access logs does not load, and says why."""
        config = tmp_path / "govproxy.yaml"
        config.write_text("retention:\n  access_days: 90\n", encoding="utf-8")

        with pytest.raises(ConfigurationError, match=r"retention\.access_days"):
            load_settings(config)

    def test_third_party_provision_records_are_kept_three_years(
        self, store: Store
    ) -> None:
        """Events of a third-party purpose outlive access logs: 3 years (L-04)."""
        store.append(access(400, SHARING), access(1000, SHARING), access(1200, SHARING))

        store.purge()

        assert store.whole() == 2

    def test_a_provision_outlives_its_purpose_leaving_the_catalog(
        self, store: Store
    ) -> None:
        """An access that recorded its recipient is kept 3 years, though today's
        catalog no longer lists its purpose as third-party (renamed or unflagged)."""
        store.append(
            access(400, "sharing_2025", recipient="cobrand-bank"),
            access(1200, "sharing_2025", recipient="cobrand-bank"),
            access(400),
        )

        dry = store.purge(dry=True)
        report = store.purge()

        assert (dry.events, report.events) == (2, 2)
        assert store.sql(
            "SELECT purpose, ts FROM audit_events WHERE kind = 'access.read'"
            " AND detail NOT LIKE '{\"purged_by\":%'"
        ) == [("sharing_2025", ts(days_ago(400)))]

    def test_consent_within_three_years_of_lapse_is_kept(self, store: Store) -> None:
        """A consent granted 5 years ago and withdrawn 2 years ago keeps its history."""
        store.append(
            consent_draft("consent.granted", "c1", "marketing_push", 1825),
            consent_draft("consent.withdrawn", "c1", "marketing_push", 730),
            also=[
                change("c1", "marketing_push", ConsentAction.GRANTED, 1825),
                change("c1", "marketing_push", ConsentAction.WITHDRAWN, 730),
            ],
        )

        report = store.purge()

        assert (report.events, report.consent_histories) == (0, 0)
        assert store.sql("SELECT count(*) FROM consent_events")[0][0] == 2

    def test_a_consent_still_in_force_is_never_purged(self, store: Store) -> None:
        """A grant given 6 years ago and never withdrawn keeps its history and events."""
        store.append(
            consent_draft("consent.granted", "c2", "marketing_push", 2190),
            also=[change("c2", "marketing_push", ConsentAction.GRANTED, 2190)],
        )

        store.purge()

        assert store.whole("consent.granted") == 1
        assert store.sql("SELECT action FROM consent_current") == [("granted",)]


class TestLapsedConsent:
    @pytest.fixture
    def lapsed(self, store: Store) -> Store:
        """c3 withdrew marketing_push 4 years ago; c4 still grants it."""
        store.append(
            consent_draft("consent.granted", "c3", "marketing_push", 2000),
            consent_draft("consent.withdrawn", "c3", "marketing_push", 1460),
            consent_draft("consent.granted", "c4", "marketing_push", 2000),
            also=[
                change("c3", "marketing_push", ConsentAction.GRANTED, 2000),
                change("c3", "marketing_push", ConsentAction.WITHDRAWN, 1460),
                change("c4", "marketing_push", ConsentAction.GRANTED, 2000),
            ],
        )
        return store

    def test_the_lapsed_history_goes_with_its_audit_events(self, lapsed: Store) -> None:
        """Ledger rows, the current-state row and both audit events of c3 are gone."""
        report = lapsed.purge()

        assert (report.events, report.consent_histories) == (2, 1)
        assert lapsed.sql("SELECT DISTINCT subject_id FROM consent_events") == [("c4",)]
        assert lapsed.sql("SELECT subject_id FROM consent_current") == [("c4",)]
        assert lapsed.sql(
            "SELECT count(*) FROM audit_events WHERE subject_ref = ?", REF("c3")
        ) == [(0,)]

    def test_tombstones_hold_nothing_personal_and_the_trail_verifies(
        self, lapsed: Store
    ) -> None:
        """A tombstone keeps its place and hashes; chains and the signed record check."""
        lapsed.purge()

        tombs = lapsed.sql(
            "SELECT caller, purpose, subject_ref, fields, detail FROM audit_events"
            " WHERE detail LIKE '{\"purged_by\":%'"
        )
        assert len(tombs) == 2
        assert all(t[:4] == (None, None, None, "[]") for t in tombs)
        assert lapsed.verified()
        assert lapsed.check() is None

    def test_a_dry_run_counts_what_a_real_run_then_purges(self, lapsed: Store) -> None:
        """--dry-run changes nothing and predicts the real run's numbers."""
        lapsed.append(access(200), access(300))

        dry = lapsed.purge(dry=True)
        untouched = lapsed.sql("SELECT count(*) FROM consent_events")[0][0]
        real = lapsed.purge()

        assert untouched == 3
        assert (dry.events, dry.consent_histories) == (
            real.events,
            real.consent_histories,
        )
        assert real.events == 4

    def test_a_failed_batch_changes_nothing(self, lapsed: Store) -> None:
        """If the batch cannot commit, no row is tombstoned and no history deleted."""
        with closing(sqlite3.connect(lapsed.db)) as conn:
            conn.execute(
                "CREATE TRIGGER refuse BEFORE INSERT ON audit_purges"
                " BEGIN SELECT RAISE(ABORT, 'disk says no'); END"
            )
            conn.commit()

        with pytest.raises(Exception, match="nothing was stored"):
            lapsed.purge()

        assert lapsed.whole("consent.granted") == 2
        assert lapsed.sql("SELECT count(*) FROM consent_events")[0][0] == 3


class TestForgedTombstones:
    @pytest.fixture
    def purged(self, store: Store) -> Store:
        """Two old access events purged, three young ones whole."""
        store.append(access(200), access(300), access(10), access(20), access(30))
        store.purge()
        return store

    def _purge_id(self, store: Store) -> str:
        return store.sql("SELECT purge_id FROM audit_purges")[0][0]

    def test_a_young_event_emptied_under_a_real_purge_id_is_caught(
        self, purged: Store
    ) -> None:
        """Hiding a recent access behind an existing purge record does not verify."""
        purge_id = self._purge_id(purged)
        with closing(sqlite3.connect(purged.db)) as conn:
            conn.execute(
                "UPDATE audit_events SET subject_ref = NULL, detail = ?"
                " WHERE seq = (SELECT max(seq) FROM audit_events WHERE kind = 'access.read')",
                (f'{{"purged_by":"{purge_id}"}}',),
            )
            conn.commit()

        fault = purged.check()

        assert fault is not None
        assert (fault.purge_id, fault.problem) == (purge_id, "purged_too_young")

    def test_sealed_then_purged_events_still_verify_against_the_checkpoint(
        self, store: Store
    ) -> None:
        """A purge after a seal keeps the signed tree valid: leaves hold row hashes."""
        store.append(access(200), access(300), access(10))
        store.seal()

        store.purge()
        report = store.full_verify()

        assert store.whole() == 1
        assert report.ok
        assert report.signatures_checked

    def test_verify_names_a_forged_tombstone(self, purged: Store) -> None:
        """`govproxy audit verify`'s check names the purge record a forgery breaks."""
        with closing(sqlite3.connect(purged.db)) as conn:
            conn.execute(
                'UPDATE audit_events SET detail = \'{"purged_by":"forged"}\','
                " caller = NULL, purpose = NULL, dataset = NULL, subject_ref = NULL,"
                " fields = '[]', obligations = '{}', reason = NULL, decision_id = NULL,"
                " policy_revision = NULL, decision_shape = NULL"
                " WHERE seq = 3 AND kind = 'access.read'"
            )
            conn.commit()

        report = purged.full_verify()

        assert not report.ok
        assert report.purge_fault == PurgeFault("forged", "unknown_purge")

    def test_a_tombstone_only_in_its_detail_is_altered(self, purged: Store) -> None:
        """A whole event whose detail alone is made to look purged keeps its other
        columns: the walk names it altered before any purge record is asked."""
        with closing(sqlite3.connect(purged.db)) as conn:
            conn.execute(
                'UPDATE audit_events SET detail = \'{"purged_by":"forged"}\''
                " WHERE seq = 3 AND kind = 'access.read'"
            )
            conn.commit()

        report = purged.full_verify()

        assert report.first_bad is not None
        assert (report.first_bad.seq, report.first_bad.problem) == (3, "altered")

    @pytest.mark.parametrize(
        ("column", "value"),
        [
            ("caller", "campaign-sms"),
            ("purpose", "marketing_push"),
            ("fields", '["mobile"]'),
        ],
    )
    def test_a_value_written_into_a_tombstone_is_altered(
        self, purged: Store, column: str, value: str
    ) -> None:
        """A real tombstone must hold the emptied values: nothing can be hidden in it."""
        with closing(sqlite3.connect(purged.db)) as conn:
            tombstone = conn.execute(
                "SELECT chain_id, seq FROM audit_events"
                " WHERE detail LIKE '{\"purged_by\":%' LIMIT 1"
            ).fetchone()
            conn.execute(
                f"UPDATE audit_events SET {column} = ?"  # noqa: S608 - test columns
                " WHERE chain_id = ? AND seq = ?",
                (value, *tombstone),
            )
            conn.commit()

        report = purged.full_verify()

        assert report.first_bad is not None
        assert (report.first_bad.seq, report.first_bad.problem) == (
            tombstone[1],
            "altered",
        )

    def test_a_tombstone_naming_no_record_is_caught(self, purged: Store) -> None:
        """A tombstone whose purge id has no signed record is refused."""
        with closing(sqlite3.connect(purged.db)) as conn:
            conn.execute(
                'UPDATE audit_events SET detail = \'{"purged_by":"forged"}\''
                " WHERE seq = 1 AND kind = 'access.read'"
            )
            conn.commit()

        assert purged.check() == PurgeFault("forged", "unknown_purge")

    def test_a_changed_tombstone_is_caught(self, purged: Store) -> None:
        """Moving a tombstone's timestamp breaks the record's digest."""
        with closing(sqlite3.connect(purged.db)) as conn:
            conn.execute(
                "UPDATE audit_events SET ts = '2020-01-01T00:00:00.000000Z'"
                " WHERE detail LIKE '{\"purged_by\":%' AND seq = 1"
            )
            conn.commit()

        fault = purged.check()

        assert fault is not None
        assert fault.problem == "tombstones_changed"

    def test_a_wrong_public_key_is_named(self, purged: Store) -> None:
        """Checking the records with another key says the key does not match."""
        other = AuditSigner(
            Ed25519PrivateKey.generate().private_bytes_raw(), "v1"
        ).public_pem()

        fault = purged.check(other)

        assert fault is not None
        assert fault.problem == "key_mismatch"


class TestOwnCutoffs:
    """A purge record vouches only for rows as old as its own signed cutoffs."""

    LINE = ("chain_id", "seq", "ts", "kind", "outcome", "hash")
    CUTOFFS: ClassVar[dict[str, int]] = {
        "access_days": 365,
        "provision_days": 1096,
        "consent_days": 1096,
    }

    def _purge_under_a_signed_record(self, store: Store, kind: str) -> str:
        """Tombstone the event of `kind` under a record signed with the real key:
        what a purger misjudging an event's period would leave."""
        row = store.sql(
            f"SELECT {', '.join(self.LINE)} FROM audit_events"  # noqa: S608 - constants
            " WHERE kind = ?",
            kind,
        )[0]
        record: dict[str, Any] = {
            "purge_id": "f" * 32,
            "purged_at": ts(NOW),
            "cutoffs": canonical_json(self.CUTOFFS),
            "events": 1,
            "digest": purge_digest([dict(zip(self.LINE, row, strict=True))]),
            "key_id": SIGNER.key_id,
        }
        record["signature"] = SIGNER.sign_bytes(record_payload(record))
        emptied = {**EMPTIED, "detail": canonical_json({"purged_by": "f" * 32})}
        with closing(sqlite3.connect(store.db)) as conn:
            conn.execute(
                f"INSERT INTO audit_purges ({', '.join(record)})"  # noqa: S608
                f" VALUES ({', '.join('?' * len(record))})",
                tuple(record.values()),
            )
            conn.execute(
                f"UPDATE audit_events SET {', '.join(f'{k} = ?' for k in emptied)}"  # noqa: S608
                " WHERE chain_id = ? AND seq = ?",
                (*emptied.values(), row[0], row[1]),
            )
            conn.commit()
        return "f" * 32

    @pytest.mark.parametrize(
        ("draft", "refused"),
        [
            (access(200), True),
            (consent_draft("consent.granted", "c9", "marketing_push", 400), True),
            (access(400), False),
        ],
        ids=["access-younger-than-365", "consent-younger-than-1096", "access-due"],
    )
    def test_rows_younger_than_the_records_cutoffs_are_refused(
        self, store: Store, draft: AuditDraft, refused: bool
    ) -> None:
        """An access under 365 days or a consent event under 1096 days, purged by a
        record whose cutoffs say so, is named, though older than the 180-day floor."""
        store.append(draft)

        purge_id = self._purge_under_a_signed_record(store, draft.kind)

        expected = PurgeFault(purge_id, "purged_too_young") if refused else None
        assert store.check() == expected

"""An insider with write access to the store (not to the key file): what verify,
the sealer, the proofs and the decision log make of their changes.

Each test builds a small store through real writers (SQLite), then changes it
with raw SQL the way the review did, and runs the component a user would.
"""

import asyncio
import json
import sqlite3
from collections.abc import Awaitable, Callable
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sealed_trails import PUBLIC_KEY, SIGNER, sqlite_url
from sqlalchemy.ext.asyncio import AsyncEngine

from audit.chain import ChainFault, link
from audit.checkpoint import parse_checkpoint, sign_checkpoint
from audit.checkpoint_store import checkpoint_doc
from audit.proof import TreeInconsistent, consistency_proof
from audit.record import AuditDraft, DecisionShape, canonical_json, utc_now_iso
from audit.seal import SealRefused, seal
from audit.verify import VerifyReport, verify_trail
from audit.writer import AuditWriter
from governance.cli.main import main
from governance.policy.decision_log import (
    DecisionFilter,
    entry_intact,
    export_decisions,
    list_decisions,
)
from governance.store import open_store

SHAPE = DecisionShape.of(
    "sha256:0123456789abcdef",
    {"purpose": {"name": "marketing_push"}, "fields": ["mobile"]},
    {"allow": True, "reasons": [], "obligations": {"mobile": "keep"}},
)
TS = "%Y-%m-%dT%H:%M:%S.%fZ"


def read(n: int, **extra: Any) -> AuditDraft:
    """An allowed read, decided by SHAPE."""
    return AuditDraft(
        kind="access.read",
        outcome="allowed",
        caller="campaign-sms",
        policy_revision=SHAPE.revision,
        decision=SHAPE,
        detail={"n": n},
        **extra,
    )


def granted(ts: str | None = None) -> AuditDraft:
    """A consent grant's audit event (dated `ts`, else now)."""
    values: dict[str, Any] = {"ts": ts} if ts else {}
    return AuditDraft(
        kind="consent.granted",
        outcome="allowed",
        caller="brand-app",
        purpose="marketing_push",
        subject_ref="s_forged",
        detail={"kind": "general", "notice_version": "2026.01"},
        **values,
    )


def on(db: Path, body: Callable[[AsyncEngine], Awaitable[Any]]) -> Any:
    """Run `body` on the store at `db`."""

    async def scenario() -> Any:
        store = await open_store(sqlite_url(db))
        try:
            return await body(store)
        finally:
            await store.dispose()

    return asyncio.run(scenario())


def write(db: Path, *drafts: AuditDraft) -> str:
    """Commit `drafts` through a new real writer; its chain id."""

    async def body(store: AsyncEngine) -> str:
        writer = AuditWriter(store)
        await writer.start()
        try:
            await writer.append_all(list(drafts))
        finally:
            await writer.stop()
        return writer.chain_id

    return str(on(db, body))


def sql(db: Path, statement: str, *params: object) -> list[tuple[Any, ...]]:
    """Run one statement behind the proxy's back."""
    with closing(sqlite3.connect(db)) as conn:
        rows = conn.execute(statement, params).fetchall()
        conn.commit()
    return rows


def verify(db: Path) -> VerifyReport:
    """verify_trail with the signer's public key."""
    return on(db, lambda s: verify_trail(s, public_keys=[PUBLIC_KEY]))  # type: ignore[no-any-return]


def seal_once(db: Path) -> Any:
    """One seal with the test signer."""
    return on(db, lambda s: seal(s, SIGNER))


def forge(db: Path, draft: AuditDraft) -> str:
    """Append `draft` to the longest chain, linked to its head, head moved; its id."""
    ((chain, seq, head),) = sql(
        db,
        "SELECT chain_id, head_seq, head_hash FROM audit_chains"
        " ORDER BY head_seq DESC LIMIT 1",
    )
    row = link(draft, chain_id=chain, seq=seq + 1, prev_hash=head)
    marks = ", ".join("?" * len(row))
    sql(
        db,
        f"INSERT INTO audit_events ({', '.join(row)}) VALUES ({marks})",  # noqa: S608
        *row.values(),
    )
    sql(
        db,
        "UPDATE audit_chains SET head_seq = ?, head_hash = ? WHERE chain_id = ?",
        seq + 1,
        row["hash"],
        chain,
    )
    return str(row["event_id"])


def instant(moment: datetime) -> str:
    """`moment` in the trail's form."""
    return moment.strftime(TS)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A store with one chain of three reads and a grant, sealed once."""
    path = tmp_path / "governance.db"
    write(path, read(1), read(2), granted(), read(3))
    assert seal_once(path).sealed == 4
    return path


def cli(tmp_path: Path, db: Path, capsys: Any, *argv: str) -> tuple[int, str, str]:
    """Run `govproxy --config <settings of db> argv...` in-process."""
    config = tmp_path / "govproxy.yaml"
    config.write_text(
        json.dumps({"store_url": sqlite_url(db), "keys_file": str(tmp_path / "k.json")})
    )
    code = main(["--config", str(config), *argv])
    out, err = capsys.readouterr()
    return code, out, err


class TestBackdated:
    """Defect 3: an event dated before its chain began, or after its seal."""

    def test_a_backdated_grant_linked_to_the_head_is_named_by_verify(self, db):
        """The review's forgery: a grant of 2025-12 on a chain started later."""
        forged = forge(db, granted("2025-12-01T09:00:00.000000Z"))

        report = verify(db)

        assert report.ok is False
        assert report.first_bad is not None
        assert (report.first_bad.event_id, report.first_bad.problem) == (
            forged,
            "before_chain_start",
        )

    def test_the_sealer_holds_a_backdated_event_back_and_signs_nothing_over_it(
        self, db
    ):
        """`audit checkpoint` would have sealed it into a signed checkpoint."""
        forged = forge(db, granted("2025-12-01T09:00:00.000000Z"))

        result = seal_once(db)

        assert (result.sealed, result.document) == (0, None)
        assert [(f.event_id, f.problem) for f in result.held] == [
            (forged, "before_chain_start")
        ]
        assert sql(db, "SELECT COUNT(*) FROM audit_leaves") == [(4,)]

    def test_the_checkpoint_command_refuses_in_one_line(self, db, tmp_path, capsys):
        """Exit 1 and one line naming the held event, no traceback."""
        seal_once(db)  # the key file differs: seal what is there with the CLI's own
        forged = forge(db, granted("2025-12-01T09:00:00.000000Z"))
        sql(db, "DELETE FROM audit_checkpoints")
        sql(db, "DELETE FROM audit_leaves")
        sql(db, "DELETE FROM audit_nodes")

        code, _, err = cli(tmp_path, db, capsys, "audit", "checkpoint")

        assert code == 1
        assert f"(event {forged}): before_chain_start" in err
        assert "Traceback" not in err
        assert sql(db, "SELECT COUNT(*) FROM audit_leaves") == [(4,)]

    def test_a_future_dated_event_is_held_until_its_time(self, db):
        """An event dated beyond this seal (and the clock skew) is not signed yet."""
        later = instant(datetime.now(UTC) + timedelta(hours=2))
        forged = forge(db, granted(later))

        result = seal_once(db)

        assert [(f.event_id, f.problem) for f in result.held] == [
            (forged, "after_seal")
        ]

    def test_an_event_dated_after_the_checkpoint_that_sealed_it_is_named(self, db):
        """A checkpoint whose `sealed_at` precedes an event it signs (as a sealer
        without the check made) does not vouch for that event."""
        ((number, body, key_id, signature),) = sql(
            db, "SELECT number, body, key_id, signature FROM audit_checkpoints"
        )
        doc = checkpoint_doc(_Row(number, body, key_id, signature))
        early = parse_checkpoint(doc)
        assert early is not None
        first_ts = sql(db, "SELECT MIN(ts) FROM audit_events")[0][0]
        sealed_at = instant(datetime.strptime(first_ts, TS) - timedelta(hours=1))
        resigned = sign_checkpoint(
            SIGNER, early.__class__(**(vars(early) | {"sealed_at": sealed_at}))
        )
        sql(
            db,
            "UPDATE audit_checkpoints SET sealed_at = ?, body = ?, signature = ?",
            sealed_at,
            canonical_json(resigned["checkpoint"]),
            resigned["signature"],
        )

        report = verify(db)

        assert report.first_bad is not None
        assert report.first_bad.problem == "after_seal"
        assert report.first_bad.seq == 1

    def test_an_event_drafted_before_a_seal_and_committed_after_it_verifies(self, db):
        """A consent import's drafts share one instant and may commit long after
        it: sealed by a later checkpoint, such an event is not a forgery."""
        drafted = granted(utc_now_iso())  # drafted now ...
        write(db, read(4))
        assert seal_once(db).sealed == 1  # ... a checkpoint is sealed meanwhile ...
        write(db, drafted)  # ... and it commits after, on a chain of its own

        assert seal_once(db).sealed == 1
        assert verify(db).ok is True

    def test_an_event_a_little_before_its_chain_start_verifies(self, db):
        """A clock stepped back by a minute is within the skew allowed."""
        ((started,),) = sql(
            db, "SELECT started_at FROM audit_chains ORDER BY head_seq DESC LIMIT 1"
        )
        forge(
            db, granted(instant(datetime.strptime(started, TS) - timedelta(minutes=1)))
        )

        assert seal_once(db).held == ()
        assert verify(db).ok is True


class _Row:
    """A stored checkpoint's columns, as `checkpoint_doc` reads them."""

    def __init__(self, number: int, body: str, key_id: str, signature: str) -> None:
        self.number, self.body, self.key_id, self.signature = (
            number,
            body,
            key_id,
            signature,
        )


class TestMissingShape:
    """Defect 5: a deleted decision shape."""

    def delete_shape(self, db: Path) -> None:
        sql(db, "DELETE FROM decision_shapes WHERE shape_id = ?", SHAPE.id)

    def test_verify_names_the_first_event_whose_shape_is_gone(self, db):
        """`missing_shape` at the first event naming it."""
        self.delete_shape(db)

        report = verify(db)

        assert report.ok is False
        assert report.first_bad is not None
        assert (report.first_bad.seq, report.first_bad.problem) == (1, "missing_shape")

    def test_the_decision_log_lists_its_entries_marked_not_intact(self, db):
        """Each decision stays listed, input and result null, not intact."""
        self.delete_shape(db)

        page, _ = on(
            db, lambda s: list_decisions(s, DecisionFilter(), limit=10, cursor=None)
        )

        assert len(page) == 3
        assert {(e["input"], e["result"], entry_intact(e)) for e in page} == {
            (None, None, False)
        }
        assert {e["revision"] for e in page} == {SHAPE.revision}

    def test_policy_decisions_exports_them_and_exits_1(self, db, tmp_path, capsys):
        """`govproxy policy decisions` keeps each line and names the missing shape."""
        self.delete_shape(db)

        code, out, err = cli(tmp_path, db, capsys, "policy", "decisions")

        assert code == 1
        assert len(out.splitlines()) == 3
        assert err.count(f"its shape {SHAPE.id} is not stored: missing") == 3

    def test_an_intact_log_still_lists_every_decision(self, db):
        """Without tampering the entries are whole and intact."""

        async def everything(store: AsyncEngine) -> list[dict[str, Any]]:
            return [e async for e in export_decisions(store, DecisionFilter())]

        found = on(db, everything)

        assert len(found) == 3
        assert all(entry_intact(e) for e in found)


class TestCorruptNode:
    """Defect 7: a stored tree node that is not a hash."""

    @pytest.fixture
    def big(self, tmp_path: Path) -> Path:
        """A store sealed in two checkpoints of 20 and 40 leaves (so nodes exist)."""
        path = tmp_path / "governance.db"
        write(path, *(read(n) for n in range(20)))
        seal_once(path)
        write(path, *(read(n) for n in range(20, 40)))
        seal_once(path)
        sql(path, "UPDATE audit_nodes SET hash = 'zz'")
        return path

    def test_the_sealer_refuses_instead_of_failing(self, big):
        """SealRefused, which `audit checkpoint` prints as one line."""
        write(big, read(99))

        with pytest.raises(SealRefused):
            seal_once(big)

    def test_a_consistency_proof_is_tree_inconsistent(self, big):
        """The API's 409 `tree_inconsistent`, not a 500."""
        with pytest.raises(TreeInconsistent):
            on(big, lambda s: consistency_proof(s, 20))

    def test_prove_prints_one_line(self, big, tmp_path, capsys):
        """`govproxy audit prove --from 20`: exit 2, one line, no traceback."""
        code, out, err = cli(tmp_path, big, capsys, "audit", "prove", "--from", "20")

        assert code == 2
        assert out == ""
        assert err.splitlines() == [
            "govproxy: the stored tree is inconsistent: a node or leaf is not a hash;"
            " run `govproxy audit verify`"
        ]


class TestEmptied:
    """Defect 8: every audit table emptied while the consent ledger remains."""

    def test_an_emptied_trail_with_consent_changes_is_not_intact(self, db):
        """The ledger's changes were each recorded with a consent event."""
        sql(
            db,
            "INSERT INTO consent_events (subject_id, purpose, action, notice_version,"
            " method, channel, scope, kind, grantor, event_id, recorded_at,"
            " recorded_by) VALUES ('C1', 'marketing_push', 'granted', '2026.01',"
            " 'click', 'app', '[]', 'general', 'self',"
            " 'e0000000-0000-4000-8000-000000000001', CURRENT_TIMESTAMP, 'brand-app')",
        )
        assert verify(db).ok is True
        for table in (
            "audit_events",
            "audit_chains",
            "audit_leaves",
            "audit_nodes",
            "audit_checkpoints",
            "audit_subjects",
            "decision_shapes",
        ):
            sql(db, f"DELETE FROM {table}")  # noqa: S608

        report = verify(db)

        assert report.ok is False
        assert report.first_bad == ChainFault("", 0, None, "trail_emptied")

    def test_the_verify_command_says_so_and_exits_1(self, db, tmp_path, capsys):
        """One line, exit 1, instead of "intact: 0 events"."""
        sql(
            db,
            "INSERT INTO consent_events (subject_id, purpose, action, notice_version,"
            " method, channel, scope, kind, grantor, event_id, recorded_at,"
            " recorded_by) VALUES ('C1', 'marketing_push', 'granted', '2026.01',"
            " 'click', 'app', '[]', 'general', 'self',"
            " 'e0000000-0000-4000-8000-000000000001', CURRENT_TIMESTAMP, 'brand-app')",
        )
        for table in ("audit_events", "audit_chains", "audit_leaves", "audit_nodes"):
            sql(db, f"DELETE FROM {table}")  # noqa: S608
        sql(db, "DELETE FROM audit_checkpoints")

        key = tmp_path / "pub.pem"
        key.write_text(PUBLIC_KEY)

        code, out, _ = cli(
            tmp_path, db, capsys, "audit", "verify", "--public-key", str(key)
        )

        assert code == 1
        assert "NOT intact: trail_emptied" in out

    def test_a_fresh_store_is_intact(self, tmp_path):
        """No ledger change and no event: nothing was emptied."""
        path = tmp_path / "governance.db"
        on(path, lambda s: asyncio.sleep(0))

        assert verify(path).ok is True

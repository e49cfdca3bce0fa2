"""verify_trail with signed checkpoints: what a database-level attacker does is named.

The store holds two chains (30 and 20 events) sealed in three checkpoints (of
20, 40 and 50 leaves, so stored nodes exist), then 3 more events of the first
chain that no checkpoint covers yet. Each test tampers a copy with raw SQL.
"""

import asyncio
import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from pg import pg_url
from sealed_trails import (
    PUBLIC_KEY,
    SIGNER,
    STRANGER,
    build,
    execute,
    leaf_of,
    query,
    rewrite_event,
    seal_all,
    sqlite_url,
    write_trail,
)
from sqlalchemy import select, update
from sqlmodel import col

from audit.chain import row_hash
from audit.checkpoint import parse_checkpoint, sign_checkpoint
from audit.models import AuditChain, AuditEventRow
from audit.record import canonical_json
from audit.verify import VerifyReport, verify_trail
from governance.store import open_store

__all__ = ["pg_url"]  # fixture: imported so that pytest finds it
FIRST, SECOND = 30, 20
SIZES = (20, 20, 10)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """The sealed two-chain store, with 3 unsealed events, written once per module."""
    db = tmp_path_factory.mktemp("sealed") / "g.db"
    first, second = build(db, (FIRST, SECOND), SIZES)

    async def more() -> None:
        store = await open_store(sqlite_url(db))
        try:
            await write_trail(store, (3,))
        finally:
            await store.dispose()

    asyncio.run(more())
    return db, first, second


@pytest.fixture
def trail(template: tuple[Path, str, str], tmp_path: Path) -> tuple[Path, str, str]:
    """This test's own copy: (file, first chain, second chain)."""
    db, first, second = template
    for part in db.parent.glob(db.name + "*"):
        shutil.copy(part, tmp_path / part.name)
    return tmp_path / db.name, first, second


def verify(db: Path, keys: list[str] | None = None) -> VerifyReport:
    """verify_trail over the store at `db`, checking signatures with `keys`."""

    async def scenario() -> VerifyReport:
        store = await open_store(sqlite_url(db))
        try:
            return await verify_trail(store, public_keys=keys)
        finally:
            await store.dispose()

    return asyncio.run(scenario())


def event_at(db: Path, chain: str, seq: int) -> str:
    """The id of the event at (chain, seq)."""
    ((event_id,),) = query(
        db,
        "SELECT event_id FROM audit_events WHERE chain_id = ? AND seq = ?",
        chain,
        seq,
    )
    return str(event_id)


def doc_of(db: Path, number: int) -> dict:
    """The stored document of checkpoint `number`."""
    ((body, key_id, signature),) = query(
        db,
        "SELECT body, key_id, signature FROM audit_checkpoints WHERE number = ?",
        number,
    )
    return {
        "format": "govproxy-audit-checkpoint/1",
        "checkpoint": json.loads(body),
        "key_id": key_id,
        "signature": signature,
    }


def fault_of(report: VerifyReport) -> tuple[str, int | None, tuple[int, int] | None]:
    """(problem, checkpoint, leaves) of a checkpoint fault."""
    fault = report.checkpoint_fault
    assert report.ok is False
    assert fault is not None, report
    return fault.problem, fault.checkpoint, fault.leaves


class TestIntact:
    """An untouched sealed trail."""

    def test_when_untouched_then_ok_with_every_figure(self, trail):
        """All events, chains, checkpoints, sealed and unsealed counts are reported."""
        db, _, _ = trail

        report = verify(db, [PUBLIC_KEY])

        assert (report.ok, report.events, report.chains) == (True, 53, 3)
        assert (report.checkpoints, report.sealed, report.unsealed) == (3, 50, 3)
        assert (report.latest.number, report.latest.tree_size) == (3, 50)
        assert report.signatures_checked is True

    def test_without_public_keys_signatures_are_said_to_be_unchecked(self, trail):
        """Verification without keys still checks the tree, and says signatures were not."""
        db, _, _ = trail

        report = verify(db)

        assert (report.ok, report.signatures_checked) == (True, False)


class TestKeys:
    """Checkpoint signatures, checked with the public key only."""

    def test_when_the_public_key_is_another_signers_then_key_mismatch(self, trail):
        """A wrong public key is named as such, at the first checkpoint, with both key ids."""
        db, _, _ = trail

        report = verify(db, [STRANGER.public_pem()])

        assert fault_of(report) == ("key_mismatch", 1, None)
        assert "ed25519:" in report.checkpoint_fault.detail

    def test_when_old_and_new_keys_are_given_then_either_may_have_signed(self, trail):
        """After a key rotation, verification accepts any key it is given."""
        db, _, _ = trail

        assert verify(db, [STRANGER.public_pem(), PUBLIC_KEY]).ok is True

    def test_when_a_signed_field_is_changed_then_bad_signature(self, trail):
        """Raising a checkpoint's sealed_at (column and body alike) breaks its signature."""
        db, _, _ = trail
        execute(
            db,
            "UPDATE audit_checkpoints SET body = replace(body, sealed_at, ?),"
            " sealed_at = ? WHERE number = 2",
            "2099-01-01T00:00:00.000000Z",
            "2099-01-01T00:00:00.000000Z",
        )

        report = verify(db, [PUBLIC_KEY])

        assert fault_of(report) == ("bad_signature", 2, None)


class TestMissingCheckpoints:
    """A checkpoint removed from the store is reported, wherever it was."""

    @pytest.mark.parametrize("number", [1, 2], ids=["first", "middle"])
    def test_when_a_checkpoint_is_deleted_then_it_is_named_missing(self, trail, number):
        """Numbering has a gap: the missing checkpoint's number is reported."""
        db, _, _ = trail
        execute(db, "DELETE FROM audit_checkpoints WHERE number = ?", number)

        assert fault_of(verify(db, [PUBLIC_KEY]))[:2] == ("checkpoint_missing", number)

    def test_when_the_latest_checkpoint_is_deleted_then_its_leaves_give_it_away(
        self, trail
    ):
        """Leaves past the remaining latest checkpoint mean one was removed."""
        db, _, _ = trail
        execute(db, "DELETE FROM audit_checkpoints WHERE number = 3")

        assert fault_of(verify(db, [PUBLIC_KEY])) == ("checkpoint_missing", 3, (40, 50))

    def test_when_every_checkpoint_is_deleted_then_the_leaves_give_it_away(self, trail):
        """Leaves without any checkpoint mean checkpoints were removed."""
        db, _, _ = trail
        execute(db, "DELETE FROM audit_checkpoints")

        assert fault_of(verify(db, [PUBLIC_KEY])) == ("checkpoint_missing", 1, (0, 50))

    def test_when_a_checkpoint_does_not_name_its_predecessor_then_altered(self, trail):
        """A validly signed checkpoint whose `previous` is not the digest of the one
        before it (a forked history) is refused."""
        db, _, _ = trail
        forked = replace(parse_checkpoint(doc_of(db, 3)), previous="0" * 64)
        doc = sign_checkpoint(SIGNER, forked)
        execute(
            db,
            "UPDATE audit_checkpoints SET body = ?, signature = ? WHERE number = 3",
            canonical_json(doc["checkpoint"]),
            doc["signature"],
        )

        assert fault_of(verify(db, [PUBLIC_KEY]))[:2] == ("checkpoint_altered", 3)


class TestSealedEvents:
    """Events changed after they were sealed: the chain still verifies, the tree does not."""

    def test_when_a_sealed_event_is_rewritten_and_relinked_then_it_is_named(
        self, trail
    ):
        """An outcome changed with every hash recomputed is named: chain, seq, event."""
        db, first, _ = trail
        event_id = rewrite_event(db, first, 12, outcome="denied")

        report = verify(db, [PUBLIC_KEY])

        assert report.first_bad is not None
        assert (report.first_bad.chain_id, report.first_bad.seq) == (first, 12)
        assert (report.first_bad.event_id, report.first_bad.problem) == (
            event_id,
            "altered",
        )

    def test_when_a_sealed_event_and_its_leaf_are_rewritten_then_nodes_place_it(
        self, trail
    ):
        """Rewriting the leaf too leaves the signed root: the fault is placed in the
        16 leaves of the first stored node that differs."""
        db, first, _ = trail
        rewrite_event(db, first, 12, outcome="denied")
        execute(
            db,
            "UPDATE audit_leaves SET hash = (SELECT hash FROM audit_events e WHERE"
            " e.chain_id = audit_leaves.chain_id AND e.seq = audit_leaves.seq)",
        )
        index = leaf_of(db, first, 12)

        problem, number, (start, end) = fault_of(verify(db, [PUBLIC_KEY]))

        assert (problem, end - start) == ("root_mismatch", 16)
        assert start <= index < end
        assert number == 1 + index // 20

    def test_when_a_sealed_event_is_deleted_then_it_is_named_missing(self, trail):
        """A sealed event deleted and the chain re-linked over the gap is still found."""
        db, _, second = trail
        execute(db, "DELETE FROM audit_events WHERE chain_id = ? AND seq = 20", second)
        execute(
            db,
            "UPDATE audit_chains SET head_seq = 19, head_hash = (SELECT hash FROM"
            " audit_events WHERE chain_id = ? AND seq = 19) WHERE chain_id = ?",
            second,
            second,
        )

        bad = verify(db, [PUBLIC_KEY]).first_bad

        assert (bad.chain_id, bad.seq, bad.problem) == (second, 20, "truncated")

    @pytest.mark.parametrize(
        ("seq", "problem"),
        [(7, "missing"), (SECOND, "truncated")],
        ids=["middle", "last"],
    )
    def test_when_a_sealed_event_row_is_deleted_then_it_is_named(
        self, trail, seq, problem
    ):
        """A sealed event deleted outright is named as a chain walk would name it."""
        db, _, second = trail
        execute(
            db, "DELETE FROM audit_events WHERE chain_id = ? AND seq = ?", second, seq
        )

        bad = verify(db, [PUBLIC_KEY]).first_bad

        assert (bad.chain_id, bad.seq, bad.event_id, bad.problem) == (
            second,
            seq,
            None,
            problem,
        )

    def test_when_a_whole_chain_is_deleted_then_the_checkpoint_names_it(self, trail):
        """Removing a chain's events and its registration leaves its signed head: named."""
        db, _, second = trail
        execute(db, "DELETE FROM audit_events WHERE chain_id = ?", second)
        execute(db, "DELETE FROM audit_chains WHERE chain_id = ?", second)

        bad = verify(db, [PUBLIC_KEY]).first_bad

        assert (bad.chain_id, bad.seq, bad.problem) == (second, 1, "chain_missing")

    def test_when_leaves_are_reordered_then_the_root_no_longer_matches(self, trail):
        """Two leaves swapping places change the root of the checkpoint holding them."""
        db, _, _ = trail
        execute(db, "UPDATE audit_leaves SET leaf_index = -1 WHERE leaf_index = 21")
        execute(db, "UPDATE audit_leaves SET leaf_index = 21 WHERE leaf_index = 22")
        execute(db, "UPDATE audit_leaves SET leaf_index = 22 WHERE leaf_index = -1")

        assert fault_of(verify(db, [PUBLIC_KEY])) == ("root_mismatch", 2, (16, 32))

    def test_when_a_chains_leaves_swap_places_then_the_first_is_named(self, trail):
        """Two leaves of one chain swapped: the first one out of its chain's order."""
        db, _, _ = trail
        ((left,), (right,)) = query(
            db, "SELECT chain_id FROM audit_leaves WHERE leaf_index IN (21, 23)"
        )
        execute(db, "UPDATE audit_leaves SET leaf_index = -1 WHERE leaf_index = 21")
        execute(db, "UPDATE audit_leaves SET leaf_index = 21 WHERE leaf_index = 23")
        execute(db, "UPDATE audit_leaves SET leaf_index = 23 WHERE leaf_index = -1")

        assert left == right
        assert fault_of(verify(db, [PUBLIC_KEY])) == ("leaf_out_of_order", 2, (21, 22))

    def test_when_a_leaf_is_deleted_then_leaves_are_missing(self, trail):
        """A gap in the leaf indexes is reported with the checkpoint it belongs to."""
        db, _, _ = trail
        execute(db, "DELETE FROM audit_leaves WHERE leaf_index = 33")

        assert fault_of(verify(db, [PUBLIC_KEY])) == ("leaves_missing", 2, (33, 40))


class TestProofData:
    """Leaves and nodes changed while the events are as signed: only proofs break."""

    def test_when_only_a_leaf_is_changed_then_it_is_named_and_events_are_fine(
        self, trail
    ):
        """A leaf that differs from its (signed) event is reported as the leaf's fault."""
        db, _, _ = trail
        execute(db, "UPDATE audit_leaves SET hash = ? WHERE leaf_index = 7", "a" * 64)

        assert fault_of(verify(db, [PUBLIC_KEY])) == ("leaf_altered", 1, (7, 8))

    def test_when_a_stored_node_is_changed_then_it_is_named(self, trail):
        """A stored node that differs from the signed tree is reported with its leaves."""
        db, _, _ = trail
        execute(
            db, "UPDATE audit_nodes SET hash = ? WHERE level = 5 AND idx = 0", "b" * 64
        )

        assert fault_of(verify(db, [PUBLIC_KEY])) == ("node_altered", 2, (0, 32))


@pytest.mark.postgres
def test_on_postgres_a_rewritten_sealed_event_is_named(pg_url):
    """On PostgreSQL too: a sealed event rewritten with its hash recomputed is found."""

    async def scenario() -> tuple[VerifyReport, VerifyReport, str]:
        store = await open_store(pg_url)
        try:
            (chain,) = await write_trail(store, (25,))
            await seal_all(store, max_leaves=10)
            intact = await verify_trail(store, public_keys=[PUBLIC_KEY])
            async with store.begin() as conn:
                last = (
                    await conn.execute(
                        select(AuditEventRow).where(
                            col(AuditEventRow.chain_id) == chain,
                            col(AuditEventRow.seq) == 25,
                        )
                    )
                ).one()
                forged = dict(last._mapping) | {"outcome": "denied"}
                forged["hash"] = row_hash(forged)
                await conn.execute(
                    update(AuditEventRow)
                    .where(col(AuditEventRow.event_id) == forged["event_id"])
                    .values(outcome="denied", hash=forged["hash"])
                )
                await conn.execute(
                    update(AuditChain)
                    .where(col(AuditChain.chain_id) == chain)
                    .values(head_hash=forged["hash"])
                )
            return intact, await verify_trail(store, public_keys=[PUBLIC_KEY]), chain
        finally:
            await store.dispose()

    intact, tampered, chain = asyncio.run(scenario())

    assert (intact.ok, intact.sealed, intact.checkpoints) == (True, 25, 3)
    bad = tampered.first_bad
    assert (bad.chain_id, bad.seq, bad.problem) == (chain, 25, "altered")

"""Inclusion and consistency proofs from a real store, checked offline with the public key.

The store holds two chains (21 and 14 events) sealed in checkpoints of 10, 25
and 35 leaves, and one more event that is not sealed yet.
"""

import asyncio
import copy
import shutil
from pathlib import Path

import pytest
from sealed_trails import (
    PUBLIC_KEY,
    STRANGER,
    build,
    execute,
    query,
    sqlite_url,
    write_trail,
)

from audit.proof import (
    EventNotSealed,
    TreeInconsistent,
    UnknownCheckpoint,
    UnknownEvent,
    consistency_proof,
    inclusion_proof,
)
from audit.proof_check import ProofCheck, check_proof
from audit.purges import EMPTIED
from governance.errors import InvalidRequest
from governance.store import open_store

SIZES = (10, 15, 10)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The sealed store and the id of its one unsealed event, written once."""
    db = tmp_path_factory.mktemp("proofs") / "g.db"
    build(db, (21, 14), SIZES)

    async def more() -> None:
        store = await open_store(sqlite_url(db))
        try:
            await write_trail(store, (1,))
        finally:
            await store.dispose()

    asyncio.run(more())
    ((unsealed,),) = query(
        db,
        "SELECT event_id FROM audit_events e WHERE NOT EXISTS (SELECT 1 FROM"
        " audit_leaves l WHERE l.chain_id = e.chain_id AND l.seq = e.seq)",
    )
    return db, unsealed


@pytest.fixture
def store_file(template: tuple[Path, str], tmp_path: Path) -> Path:
    """This test's own copy of the store."""
    db, _ = template
    for part in db.parent.glob(db.name + "*"):
        shutil.copy(part, tmp_path / part.name)
    return tmp_path / db.name


def on_store(db: Path, work):
    """Run `work(store)` on the store at `db`."""

    async def scenario():
        store = await open_store(sqlite_url(db))
        try:
            return await work(store)
        finally:
            await store.dispose()

    return asyncio.run(scenario())


def proofs_of_every_event(db: Path) -> list[dict]:
    """An inclusion proof of each sealed event."""
    ids = [
        e
        for (e,) in query(
            db,
            "SELECT event_id FROM audit_events e JOIN audit_leaves l"
            " ON l.chain_id = e.chain_id AND l.seq = e.seq ORDER BY l.leaf_index",
        )
    ]

    async def work(store):
        return [await inclusion_proof(store, e) for e in ids]

    return on_store(db, work)


@pytest.fixture(scope="module")
def proofs(template: tuple[Path, str]) -> list[dict]:
    """An inclusion proof of each sealed event, in leaf order, made once."""
    return proofs_of_every_event(template[0])


def checked(doc: dict) -> ProofCheck:
    """check_proof with the test signer's public key."""
    return check_proof(doc, [PUBLIC_KEY])


class TestInclusion:
    """One event in the latest signed checkpoint."""

    def test_every_sealed_event_has_a_proof_that_checks_offline(self, proofs):
        """All 35 sealed events prove their place in checkpoint 3, with only the key."""
        assert [p["leaf_index"] for p in proofs] == list(range(35))
        assert {p["checkpoint"]["checkpoint"]["number"] for p in proofs} == {3}
        assert all(checked(p).ok for p in proofs), [checked(p) for p in proofs]

    def test_a_proof_carries_every_stored_column_of_the_event(self, template, proofs):
        """The document holds the event as stored, so the verifier recomputes its hash."""
        db, _ = template
        proof = proofs[0]
        ((stored,),) = query(
            db,
            "SELECT hash FROM audit_events WHERE event_id = ?",
            proof["event"]["event_id"],
        )

        assert proof["event"]["hash"] == stored
        assert {"chain_id", "seq", "prev_hash", "detail", "ts"} <= set(proof["event"])

    def test_the_summary_names_the_event_leaf_and_checkpoint(self, proofs):
        """A valid proof says which event is which leaf of which signed checkpoint."""
        proof = proofs[4]

        summary = checked(proof).summary

        assert f"event {proof['event']['event_id']}" in summary
        assert "leaf 4 of checkpoint 3 (tree size 35" in summary

    @pytest.mark.parametrize(
        ("mangle", "reason"),
        [
            (lambda p: p["event"].update(outcome="denied"), "event_altered"),
            (lambda p: p["event"].update(hash="0" * 64), "event_altered"),
            (lambda p: p.update(leaf_index=p["leaf_index"] + 1), "bad_proof"),
            (lambda p: p["path"].__setitem__(0, "1" * 64), "bad_proof"),
            (lambda p: p["path"].pop(), "bad_proof"),
            (
                lambda p: p["checkpoint"]["checkpoint"].update(root_hash="2" * 64),
                "bad_signature",
            ),
            (lambda p: p["event"].pop("detail"), "malformed"),
            (lambda p: p.update(path="abc"), "malformed"),
            (lambda p: p.pop("checkpoint"), "malformed"),
        ],
        ids=[
            "event-column",
            "event-hash",
            "leaf-index",
            "path-hash",
            "short-path",
            "signed-root",
            "event-column-missing",
            "path-not-list",
            "no-checkpoint",
        ],
    )
    def test_when_the_proof_is_changed_then_it_fails_naming_why(
        self, proofs, mangle, reason
    ):
        """Each kind of change to a proof document is refused with its own reason."""
        proof = copy.deepcopy(proofs[7])
        mangle(proof)

        assert checked(proof).reason == reason

    def test_a_purged_event_proves_its_place_and_says_it_was_purged(self, proofs):
        """A tombstone (retention emptied it, its hash kept) is no tamper alarm;
        a tombstone holding any value it should not is."""
        tomb = copy.deepcopy(proofs[7])
        tomb["event"] |= EMPTIED | {"detail": '{"purged_by":"p-1"}'}
        stuffed = copy.deepcopy(tomb)
        stuffed["event"]["caller"] = "campaign-sms"

        check = checked(tomb)

        assert (check.ok, check.reason) == (True, None)
        assert check.summary.startswith("leaf 7 of checkpoint 3 (tree size 35")
        assert "is an event purged by retention; its content is not in the proof" in (
            check.summary
        )
        assert checked(stuffed).reason == "event_altered"

    def test_a_made_up_event_in_tombstone_form_is_not_vouched_for(self, proofs):
        """The reviewer's repro: any event id, kind, time and purge id written
        into a real proof's leaf as a tombstone. The leaf still proves its place,
        but nothing in the proof covers those fields, so none is repeated as
        checked."""
        forged = copy.deepcopy(proofs[7])
        forged["event"] |= EMPTIED | {
            "event_id": "made-up-event",
            "kind": "consent.withdrawn",
            "ts": "2026-01-01T00:00:00.000000Z",
            "detail": '{"purged_by":"anything"}',
        }

        check = checked(forged)

        assert check.ok
        for claimed in (
            "made-up-event",
            "consent.withdrawn",
            "2026-01-01T00",
            "anything",
        ):
            assert claimed not in check.summary
        assert "its content is not in the proof" in check.summary

    def test_when_checked_with_another_key_then_key_mismatch(self, proofs):
        """A proof checked with the wrong public key says the key does not match."""
        check = check_proof(proofs[0], [STRANGER.public_pem()])

        assert (check.ok, check.reason) == (False, "key_mismatch")

    def test_when_the_store_altered_an_event_then_its_proof_shows_it(self, store_file):
        """An event changed in the database (hash column kept) yields a proof the
        auditor's check rejects: the store need not be trusted."""
        ((event_id,),) = query(  # a sealed one: without an order, any event came
            store_file,
            "SELECT event_id FROM audit_events e JOIN audit_leaves l"
            " ON l.chain_id = e.chain_id AND l.seq = e.seq ORDER BY l.leaf_index LIMIT 1",
        )
        execute(
            store_file,
            "UPDATE audit_events SET outcome = 'denied' WHERE event_id = ?",
            event_id,
        )

        proof = on_store(store_file, lambda s: inclusion_proof(s, event_id))

        assert checked(proof).reason == "event_altered"

    def test_an_unknown_event_has_no_proof(self, template):
        """An id no event has is `unknown_event`."""
        db, _ = template

        with pytest.raises(UnknownEvent):
            on_store(db, lambda s: inclusion_proof(s, "no-such-event"))

    def test_an_event_not_sealed_yet_has_no_proof(self, template):
        """An event after the latest checkpoint is `event_not_sealed`."""
        db, unsealed = template

        with pytest.raises(EventNotSealed):
            on_store(db, lambda s: inclusion_proof(s, unsealed))

    def test_when_a_stored_node_is_altered_then_no_proof_is_handed_out(
        self, store_file
    ):
        """A proof that would not check against the signed root is refused instead."""
        execute(store_file, "UPDATE audit_nodes SET hash = ? WHERE level = 4", "3" * 64)
        ((event_id,),) = query(
            store_file,
            "SELECT event_id FROM audit_events e JOIN audit_leaves l ON"
            " l.chain_id = e.chain_id AND l.seq = e.seq WHERE l.leaf_index = 30",
        )

        with pytest.raises(TreeInconsistent):
            on_store(store_file, lambda s: inclusion_proof(s, event_id))


class TestConsistency:
    """One signed checkpoint is a prefix of a later one."""

    @pytest.mark.parametrize(
        ("first", "second"), [(10, 25), (10, 35), (25, 35), (25, 25), (10, None)]
    )
    def test_proofs_between_checkpoints_check_offline(self, template, first, second):
        """Every pair of checkpoint sizes proves consistent, with only the key."""
        db, _ = template

        proof = on_store(db, lambda s: consistency_proof(s, first, second))

        assert checked(proof) == ProofCheck(True, None, checked(proof).summary)
        assert proof["second"]["checkpoint"]["tree_size"] == (second or 35)

    def test_the_summary_names_both_checkpoints(self, template):
        """A valid proof says which checkpoint extends which."""
        db, _ = template
        proof = on_store(db, lambda s: consistency_proof(s, 10, 35))

        summary = checked(proof).summary

        assert summary.startswith("checkpoint 1 (tree size 10")
        assert "is a prefix of checkpoint 3 (tree size 35" in summary

    @pytest.mark.parametrize(
        ("mangle", "reason"),
        [
            (lambda p: p["path"].__setitem__(0, "4" * 64), "bad_proof"),
            (lambda p: p.update(first=p["second"], second=p["first"]), "bad_proof"),
            (lambda p: p["first"].update(signature="A" * 86), "bad_signature"),
            (lambda p: p.update(extra=True), "malformed"),
            (
                lambda p: p.update(format="govproxy-audit-consistency/2"),
                "unknown_format",
            ),
        ],
        ids=["path-hash", "swapped", "signature", "extra-field", "format"],
    )
    def test_when_the_proof_is_changed_then_it_fails_naming_why(
        self, template, mangle, reason
    ):
        """Each kind of change to a consistency proof is refused with its reason."""
        db, _ = template
        proof = on_store(db, lambda s: consistency_proof(s, 10, 35))
        mangle(proof)

        assert checked(proof).reason == reason

    @pytest.mark.parametrize(
        ("first", "second", "error"),
        [
            (11, 35, UnknownCheckpoint),
            (10, 36, UnknownCheckpoint),
            (25, 10, InvalidRequest),
        ],
    )
    def test_sizes_that_are_no_checkpoints_have_no_proof(
        self, template, first, second, error
    ):
        """A size no checkpoint has, or sizes in the wrong order, are refused."""
        db, _ = template

        with pytest.raises(error):
            on_store(db, lambda s: consistency_proof(s, first, second))


def test_a_bare_checkpoint_document_checks_offline(proofs):
    """A checkpoint document alone verifies, and says what it commits to."""
    check = checked(proofs[0]["checkpoint"])

    assert check.ok
    assert check.summary.startswith("checkpoint 3 (tree size 35")


@pytest.mark.parametrize("doc", [None, [], "x", {"format": 3}, {}])
def test_anything_else_is_malformed(doc):
    """Input that is not a proof document at all is `malformed`."""
    assert check_proof(doc, [PUBLIC_KEY]).reason == "malformed"

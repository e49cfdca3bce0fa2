"""Sealing over a real store: leaves, nodes and signed checkpoints, one writer or many."""

import asyncio
import itertools
import threading
from pathlib import Path

import pytest
from pg import pg_url
from sealed_trails import (
    PUBLIC_KEY,
    SIGNER,
    execute,
    query,
    seal_all,
    sqlite_url,
    write_trail,
)

from audit.checkpoint import check_checkpoint, checkpoint_digest, key_ring
from audit.merkle import leaf_hash, root_of
from audit.seal import SealRefused, SealResult, seal
from audit.verify import verify_trail
from governance.store import open_store

__all__ = ["pg_url"]  # fixture: imported so that pytest finds it
COUNTS = (23, 17)


def run_on(db: Path, *steps):
    """Open the store at `db`, run each async step on it in turn, return their results."""

    async def scenario():
        store = await open_store(sqlite_url(db))
        try:
            return [await step(store) for step in steps]
        finally:
            await store.dispose()

    return asyncio.run(scenario())


def written(db: Path) -> list[str]:
    """Write the two test chains to a fresh store at `db`; their ids."""
    (chains,) = run_on(db, lambda s: write_trail(s, COUNTS))
    return chains


def leaves(db: Path) -> list[tuple[int, str, int, str]]:
    """Every stored leaf: (index, chain, seq, event hash)."""
    return query(
        db, "SELECT leaf_index, chain_id, seq, hash FROM audit_leaves ORDER BY 1"
    )


class TestSeal:
    """One sealer: what a checkpoint covers and signs."""

    def test_when_events_are_committed_then_one_checkpoint_signs_them_all(
        self, tmp_path
    ):
        """Every event becomes a leaf, and the signed root is the MTH of their row hashes."""
        db = tmp_path / "g.db"
        written(db)

        (result,) = run_on(db, lambda s: seal(s, SIGNER))

        hashes = [h for _, _, _, h in leaves(db)]
        assert result.sealed == len(hashes) == sum(COUNTS)
        assert sorted(hashes) == sorted(
            h for (h,) in query(db, "SELECT hash FROM audit_events")
        )
        assert (
            result.latest.root_hash
            == root_of(leaf_hash(bytes.fromhex(h)) for h in hashes).hex()
        )
        assert check_checkpoint(result.document, key_ring([PUBLIC_KEY])) is None

    def test_leaves_follow_time_then_chain_then_seq(self, tmp_path):
        """Leaves of several chains interleave in (ts, chain_id, seq) order."""
        db = tmp_path / "g.db"
        written(db)
        run_on(db, lambda s: seal(s, SIGNER))

        order = query(
            db,
            "SELECT e.ts, e.chain_id, e.seq FROM audit_leaves l JOIN audit_events e"
            " ON e.chain_id = l.chain_id AND e.seq = l.seq ORDER BY l.leaf_index",
        )

        assert order == sorted(order)
        assert len({chain for _, chain, _ in order}) == 2

    def test_when_nothing_is_new_then_no_checkpoint_is_made(self, tmp_path):
        """A second seal with no new event signs nothing and reports the latest checkpoint."""
        db = tmp_path / "g.db"
        written(db)

        first, again = run_on(db, lambda s: seal(s, SIGNER), lambda s: seal(s, SIGNER))

        assert (again.sealed, again.document) == (0, None)
        assert again.latest == first.latest
        assert query(db, "SELECT COUNT(*) FROM audit_checkpoints") == [(1,)]

    def test_when_store_is_empty_then_nothing_is_sealed(self, tmp_path):
        """An empty trail has no checkpoint to make."""
        (result,) = run_on(tmp_path / "g.db", lambda s: seal(s, SIGNER))

        assert result == SealResult(0, None, None)

    def test_checkpoints_in_small_steps_end_at_the_same_root(self, tmp_path):
        """Sealing 7 at a time gives numbered checkpoints, each naming the one before,
        and the same final tree as sealing everything at once."""
        at_once, in_steps = tmp_path / "a.db", tmp_path / "b.db"
        written(at_once)
        execute(at_once, "VACUUM INTO ?", str(in_steps))
        (whole,) = run_on(at_once, lambda s: seal(s, SIGNER))

        (made,) = run_on(in_steps, lambda s: seal_all(s, max_leaves=7))

        assert [r.latest.number for r in made] == [1, 2, 3, 4, 5, 6]
        assert [r.latest.tree_size for r in made] == [7, 14, 21, 28, 35, 40]
        assert made[-1].latest.root_hash == whole.latest.root_hash
        assert all(
            later.latest.previous == checkpoint_digest(earlier.document)
            for earlier, later in itertools.pairwise(made)
        )

    def test_a_checkpoint_names_the_last_sealed_event_of_each_chain(self, tmp_path):
        """`heads` holds, per chain sealed, the seq and hash of its last sealed event."""
        db = tmp_path / "g.db"
        chains = written(db)

        (result,) = run_on(db, lambda s: seal(s, SIGNER))

        heads = {(h.chain_id, h.seq, h.hash) for h in result.latest.heads}
        expected = set(
            query(
                db,
                "SELECT chain_id, seq, hash FROM audit_events e WHERE seq ="
                " (SELECT MAX(seq) FROM audit_events m WHERE m.chain_id = e.chain_id)",
            )
        )
        assert heads == expected
        assert {c for c, _, _ in heads} == set(chains)

    def test_a_broken_chain_is_sealed_up_to_its_break_and_others_in_full(
        self, tmp_path
    ):
        """A deleted unsealed event stops its chain's sealing there; other chains go on."""
        db = tmp_path / "g.db"
        first, second = written(db)
        execute(db, "DELETE FROM audit_events WHERE chain_id = ? AND seq = 9", first)

        (result,) = run_on(db, lambda s: seal(s, SIGNER))

        sealed = query(
            db,
            "SELECT chain_id, MAX(seq), COUNT(*) FROM audit_leaves GROUP BY chain_id",
        )
        assert sorted(sealed) == sorted([(first, 8, 8), (second, 17, 17)])
        assert result.sealed == 25

    def test_when_the_stored_tree_was_altered_then_nothing_is_signed_over_it(
        self, tmp_path
    ):
        """A changed node of the signed tree's frontier makes the next seal refuse,
        adding no leaf and no checkpoint."""
        db = tmp_path / "g.db"
        written(db)
        run_on(db, lambda s: seal(s, SIGNER, max_leaves=30))
        execute(db, "UPDATE audit_nodes SET hash = ? WHERE level = 4", "0" * 64)

        with pytest.raises(SealRefused, match="does not give checkpoint 1"):
            run_on(db, lambda s: seal(s, SIGNER))

        assert query(db, "SELECT COUNT(*), MAX(leaf_index) FROM audit_leaves") == [
            (30, 29)
        ]


class TestConcurrentSealers:
    """Sealers of several workers take turns: one leaf order, no failed seal."""

    def test_when_sealers_race_on_sqlite_then_the_tree_does_not_fork(self, tmp_path):
        """Three sealer threads (own engines) and a writer: every seal succeeds, each
        event is sealed once, and the trail verifies with the public key."""
        db = tmp_path / "g.db"
        run_on(db)
        errors: list[BaseException] = []
        done = threading.Event()

        def sealer() -> None:
            async def rounds(store):
                while not done.is_set():
                    try:
                        await seal(store, SIGNER, max_leaves=7)
                    except Exception as exc:  # the assertion below reports it
                        errors.append(exc)
                    await asyncio.sleep(0.001)

            run_on(db, rounds)

        threads = [threading.Thread(target=sealer) for _ in range(3)]
        for thread in threads:
            thread.start()
        try:
            run_on(db, lambda s: write_trail(s, (40, 40, 40)))
        finally:
            done.set()
            for thread in threads:
                thread.join()
        (_, report) = run_on(
            db,
            lambda s: seal_all(s, max_leaves=1000),
            lambda s: verify_trail(s, public_keys=[PUBLIC_KEY]),
        )

        assert errors == []
        assert report.ok, report
        assert report.sealed == report.events == 120
        assert report.checkpoints > 3

    @pytest.mark.postgres
    def test_when_sealers_race_on_postgres_then_the_tree_does_not_fork(self, pg_url):
        """Three sealers on their own engines and a writer: every seal succeeds and the
        trail verifies, each event sealed once."""

        async def scenario():
            stores = [await open_store(pg_url) for _ in range(4)]
            try:
                writing = asyncio.create_task(write_trail(stores[0], (40, 40, 40)))

                async def rounds(store):
                    while not writing.done():
                        await seal(store, SIGNER, max_leaves=7)
                        await asyncio.sleep(0)

                outcomes = await asyncio.gather(
                    writing, *(rounds(s) for s in stores[1:]), return_exceptions=True
                )
                await seal_all(stores[0], max_leaves=1000)
                report = await verify_trail(stores[0], public_keys=[PUBLIC_KEY])
            finally:
                for store in stores:
                    await store.dispose()
            return outcomes, report

        outcomes, report = asyncio.run(scenario())

        assert [o for o in outcomes if isinstance(o, BaseException)] == []
        assert report.ok, report
        assert report.sealed == report.events == 120
        assert report.checkpoints > 3

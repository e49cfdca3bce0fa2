"""An export never silently leaves out an event: checked against the chains and sealed leaves.

Whoever can write to the database could delete a sealed event, export, and put
it back: `audit verify` then passes, and the pack must not. The store here is
two chains written with chosen instants (trail_rows) and sealed in one
checkpoint, altered with sqlite3 as such an insider would.
"""

import sqlite3
from contextlib import closing
from pathlib import Path

import orjson
import pytest
from sealed_trails import SIGNER
from trail_rows import CHAIN, at, insert_trail, on_store, read, store_url

from audit.chain import row_hash
from audit.export import write_export
from audit.export_manifest import Coverage, Digest, ExportMeta, signed_manifest
from audit.export_verify import check_export
from audit.query import EventFilter
from audit.seal import seal
from governance.errors import TrailAltered

OTHER = "d" * 32
WHOLE = EventFilter(since=at(1), until=at(28))


def meta(f: EventFilter) -> ExportMeta:
    """What an officer's export of `f` would record."""
    since, until = f.since or "", f.until or ""
    filters = {k: v for k, v in f.given().items() if k not in ("since", "until")}
    return ExportMeta("d-1", at(28), "compliance-officer", filters, since, until)


@pytest.fixture
def store(tmp_path: Path) -> tuple[str, Path]:
    """Chain CHAIN: 8 reads on days 1-8 (subject s_<day>); chain OTHER: 3 reads on
    days 2, 4, 6; all sealed in checkpoint 1. The URL and the SQLite file."""
    with store_url("sqlite", tmp_path) as url:

        async def build(engine):
            await insert_trail(engine, [read(f"s_{d}", at(d)) for d in range(1, 9)])
            await insert_trail(
                engine, [read("s_x", at(d, 1)) for d in (2, 4, 6)], OTHER
            )
            await seal(engine, SIGNER)

        on_store(url, build)
        yield url, Path(url.removeprefix("sqlite+aiosqlite:///"))


def export(url: str, out: Path, f: EventFilter = WHOLE) -> dict:
    """Export `f` as JSON lines into `out`; the signed manifest."""
    return on_store(
        url,
        lambda engine: write_export(
            engine, f, fmt="jsonl", meta=meta(f), signer=SIGNER, out=out
        ),
    )


def sql(db: Path, statement: str, *params) -> list[tuple]:
    """Run one statement on the SQLite file, committed."""
    with closing(sqlite3.connect(db)) as conn:
        rows = conn.execute(statement, params).fetchall()
        conn.commit()
        return rows


def problems(path: Path) -> list[tuple[str, str]]:
    """What verify-export finds, as (code, message)."""
    check = check_export(path, [SIGNER.public_pem()])
    return [(p.code, p.message) for p in check.problems]


class TestRefusedAtExport:
    """The reviewer's repro: delete a sealed event, export, put it back."""

    def test_a_sealed_event_deleted_inside_the_range_stops_the_export(
        self, store, tmp_path
    ):
        """With seq 5 gone the export names it and writes nothing; put back, the
        same export is signed and holds it."""
        url, db = store
        (row,) = sql(
            db, "SELECT * FROM audit_events WHERE chain_id = ? AND seq = 5", CHAIN
        )
        sql(db, "DELETE FROM audit_events WHERE chain_id = ? AND seq = 5", CHAIN)

        with pytest.raises(TrailAltered) as refused:
            export(url, tmp_path / "x")

        assert (
            f"event 5 of chain {CHAIN} is missing from the store (sealed as leaf"
            in str(refused.value)
        )
        assert list((tmp_path / "x").iterdir()) == []
        marks = ", ".join("?" * len(row))
        sql(db, f"INSERT INTO audit_events VALUES ({marks})", *row)  # noqa: S608 - marks only
        assert export(url, tmp_path / "y")["manifest"]["count"] == 11

    @pytest.mark.parametrize(
        ("seq", "since", "until"),
        [(3, at(3), at(7)), (6, at(3), at(7)), (8, at(1), at(28))],
        ids=["first-of-range", "last-of-range", "last-of-chain"],
    )
    def test_a_sealed_event_deleted_at_either_end_of_the_range_stops_it(
        self, store, tmp_path, seq, since, until
    ):
        """No neighbour inside the export shows these: the store around it must."""
        url, db = store
        sql(db, "DELETE FROM audit_events WHERE chain_id = ? AND seq = ?", CHAIN, seq)

        with pytest.raises(
            TrailAltered, match=f"event {seq} of chain {CHAIN} is missing"
        ):
            export(url, tmp_path / "x", EventFilter(since=since, until=until))

    def test_an_event_rewritten_to_hold_its_hash_differs_from_its_leaf(
        self, store, tmp_path
    ):
        """The chain's last event, rehashed after a change: it links and holds its
        hash, but it is not what checkpoint 1 sealed."""
        url, db = store
        columns = [c for (_, c, *_) in sql(db, "PRAGMA table_info(audit_events)")]
        (values,) = sql(
            db, "SELECT * FROM audit_events WHERE chain_id = ? AND seq = 8", CHAIN
        )
        row = dict(zip(columns, values, strict=True)) | {"outcome": "denied"}
        sql(
            db,
            "UPDATE audit_events SET outcome = 'denied', hash = ? WHERE chain_id = ? AND seq = 8",
            row_hash(row),
            CHAIN,
        )

        with pytest.raises(TrailAltered, match="is not the event sealed as leaf"):
            export(url, tmp_path / "x")


class TestManifestAccount:
    """What the manifest states per chain, and what verify-export makes of it."""

    def test_a_complete_export_states_each_chain_and_its_checkpoint(
        self, store, tmp_path
    ):
        """Unfiltered: complete, checked against checkpoint 1, each chain's seqs."""
        url, _ = store

        manifest = export(url, tmp_path / "x")["manifest"]

        assert manifest["complete"] is True
        assert (
            manifest["checkpoint"]["number"],
            manifest["checkpoint"]["tree_size"],
        ) == (
            1,
            11,
        )
        assert manifest["chains"] == [
            {"chain_id": CHAIN, "first": 1, "last": 8, "events": 8, "skipped": []},
            {"chain_id": OTHER, "first": 1, "last": 3, "events": 3, "skipped": []},
        ]
        assert problems(tmp_path / "x") == []

    def test_a_filtered_export_says_so_and_its_gaps_are_no_problem(
        self, store, tmp_path
    ):
        """One subject's events leave gaps in their chain: expected, not refused."""
        url, _ = store
        f = EventFilter(subject_ref="s_x", since=at(1), until=at(28))

        manifest = export(url, tmp_path / "x", f)["manifest"]

        assert (manifest["complete"], manifest["filters"]) == (
            False,
            {"subject_ref": "s_x"},
        )
        assert manifest["chains"] == [
            {"chain_id": OTHER, "first": 1, "last": 3, "events": 3}
        ]
        assert problems(tmp_path / "x") == []

    def test_an_event_stamped_outside_the_range_between_exported_ones_is_named(
        self, tmp_path
    ):
        """An event's instant is stamped before its seq is given, so a chain's
        seqs need not follow its instants: seq 3 (day 20) sits between seqs 2
        and 4 of a range ending on day 10. It is read, checked to link, and named
        as skipped; the export verifies."""
        with store_url("sqlite", tmp_path) as url:
            days = (1, 2, 20, 4, 5)
            on_store(url, lambda e: insert_trail(e, [read("s_a", at(d)) for d in days]))

            manifest = export(
                url, tmp_path / "x", EventFilter(since=at(1), until=at(10))
            )["manifest"]

        assert manifest["checkpoint"] is None
        assert manifest["chains"] == [
            {"chain_id": CHAIN, "first": 1, "last": 5, "events": 4, "skipped": [[3, 3]]}
        ]
        assert problems(tmp_path / "x") == []

    def test_a_signed_complete_export_lacking_an_event_is_a_seq_gap(
        self, store, tmp_path
    ):
        """A pack a signer signed without seq 5 (as before this check) is named
        by verify-export, though its digest and count hold."""
        url, _ = store
        out = tmp_path / "x"
        manifest = export(url, out)["manifest"]
        data = out / "events.jsonl"
        kept = [
            line
            for line in data.read_bytes().splitlines(keepends=True)
            if (orjson.loads(line)["chain_id"], orjson.loads(line)["seq"]) != (CHAIN, 5)
        ]
        data.write_bytes(b"".join(kept))
        digest = Digest()
        digest.add(b"".join(kept), len(kept))
        chains = [
            c | {"events": c["events"] - (c["chain_id"] == CHAIN)}
            for c in manifest["chains"]
        ]
        (out / "manifest.json").write_bytes(
            orjson.dumps(
                signed_manifest(
                    SIGNER,
                    meta(WHOLE),
                    name="events.jsonl",
                    fmt="jsonl",
                    digest=digest,
                    coverage=Coverage(True, manifest["checkpoint"], chains),
                )
            )
        )

        assert problems(out) == [
            (
                "seq_gap",
                f"chain {CHAIN}: event 5 is not in this complete export and the"
                " manifest does not name it as outside the range",
            )
        ]

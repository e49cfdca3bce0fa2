"""Exports: exact JSON lines, Excel-safe CSV, signed manifests, streaming in bounded memory."""

import asyncio
import csv
import io
import os
import sqlite3
import tracemalloc
import zipfile
from contextlib import closing
from pathlib import Path

import orjson
import pytest
from trail_rows import (
    CHAIN,
    at,
    insert_rows,
    insert_trail,
    linked,
    on_store,
    query,
    read,
    store_url,
)

from audit.chain import genesis_hash, row_hash
from audit.export import csv_zip_body, jsonl_body, write_export
from audit.export_format import BOM, COLUMNS, safe_cell
from audit.export_manifest import Coverage, Digest, ExportMeta, signed_manifest
from audit.export_verify import check_export
from audit.query import EventFilter
from audit.signing import AuditSigner
from governance.errors import TrailAltered

SIGNER = AuditSigner(os.urandom(32), "v1")
OTHER_SIGNER = AuditSigner(os.urandom(32), "v1")
EVERYTHING = EventFilter(since=at(1), until=at(28))
TRAIL = [
    read("s_a", at(1), detail={"tags": ["高消费", "母婴"]}),
    read("s_b", at(2), outcome="denied", reason="consent_missing"),
    query(["s_a", "s_c"], at(3)),
    # Values a spreadsheet would run as formulas (stored as they came).
    read('=HYPERLINK("http://x.example")', at(4), purpose="+1", dataset="@SUM(A1)"),
]


def meta(f: EventFilter = EVERYTHING) -> ExportMeta:
    """What an officer's export of `f` would record."""
    return ExportMeta(
        decision_id="d-1",
        created_at=at(28),
        exporter="compliance-officer",
        filters={k: v for k, v in f.given().items() if k not in ("since", "until")},
        since=f.since or "",
        until=f.until or "",
    )


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def url(request, tmp_path_factory):
    """A store of each kind holding TRAIL (exports only read it: shared by the module)."""
    with store_url(request.param, tmp_path_factory.mktemp("export")) as found:
        on_store(found, lambda store: insert_trail(store, TRAIL))
        yield found


@pytest.fixture(scope="module")
def sqlite_url(tmp_path_factory):
    """A SQLite store holding TRAIL, for what does not depend on the store."""
    with store_url("sqlite", tmp_path_factory.mktemp("export")) as found:
        on_store(found, lambda store: insert_trail(store, TRAIL))
        yield found


def export_dir(url: str, out: Path, fmt: str, f: EventFilter = EVERYTHING) -> dict:
    """Export `f` into `out`; the signed manifest."""
    return on_store(
        url,
        lambda store: write_export(
            store, f, fmt=fmt, meta=meta(f), signer=SIGNER, out=out
        ),
    )


def body_bytes(url: str, make, f: EventFilter = EVERYTHING) -> bytes:
    """Every byte of an HTTP export body."""

    async def body(store):
        return b"".join([c async for c in make(store, f, meta=meta(f), signer=SIGNER)])

    return on_store(url, body)


def _meta_of(manifest: dict) -> ExportMeta:
    """The export facts a signed manifest states, to sign an edited one again."""
    return ExportMeta(
        manifest["decision_id"],
        manifest["created_at"],
        manifest["exporter"],
        manifest["filters"],
        manifest["range"]["since"],
        manifest["range"]["until"],
    )


def _coverage_of(manifest: dict) -> Coverage:
    """The coverage a signed manifest states, to sign an edited one again."""
    return Coverage(manifest["complete"], manifest["checkpoint"], manifest["chains"])


def problems(path: Path, signer: AuditSigner = SIGNER) -> list[str]:
    """The codes `check_export` finds, checked with `signer`'s public key."""
    return [p.code for p in check_export(path, [signer.public_pem()]).problems]


class TestJsonLines:
    """The exact record, one event per line."""

    def test_each_line_is_the_stored_event_and_rehashes_to_its_hash(
        self, url, tmp_path
    ):
        """Lines come oldest first, all columns, and `row_hash` of each equals its `hash`."""
        export_dir(url, tmp_path / "x", "jsonl")
        lines = (tmp_path / "x" / "events.jsonl").read_bytes().splitlines()
        events = [orjson.loads(line) for line in lines]
        expected = linked(TRAIL)

        assert [tuple(e) for e in events] == [COLUMNS] * len(TRAIL)
        assert [e["hash"] for e in events] == [r["hash"] for r in expected]
        assert all(
            row_hash({**e, **{k: _canonical(e[k]) for k in _JSON}}) == e["hash"]
            for e in events
        )
        assert events[0]["detail"] == {"tags": ["高消费", "母婴"]}

    def test_filters_and_manifest_describe_the_export(self, url, tmp_path):
        """An export of one subject's denied events names its filters, range, count and file."""
        f = EventFilter(outcome="denied", since=at(1), until=at(28))

        doc = export_dir(url, tmp_path / "x", "jsonl", f)

        manifest = doc["manifest"]
        assert manifest["count"] == 1
        assert manifest["filters"] == {"outcome": "denied"}
        assert manifest["range"] == {"since": at(1), "until": at(28)}
        assert (manifest["exporter"], manifest["decision_id"]) == (
            "compliance-officer",
            "d-1",
        )
        assert manifest["files"][0]["name"] == "events.jsonl"
        assert problems(tmp_path / "x") == []


_JSON = ("fields", "obligations", "detail")


def _canonical(value) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


class TestCsv:
    """CSV for people: Excel reads the Chinese, and runs no formula."""

    def test_csv_has_a_bom_reads_as_utf8_and_holds_every_event(
        self, sqlite_url, tmp_path
    ):
        """UTF-8 with BOM, a header of every column, one record per event, 高消费 intact."""
        export_dir(sqlite_url, tmp_path / "x", "csv")
        raw = (tmp_path / "x" / "events.csv").read_bytes()
        rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))

        assert raw.startswith(BOM)
        assert tuple(rows[0]) == COLUMNS
        assert len(rows) == 1 + len(TRAIL)
        assert "高消费" in rows[1][COLUMNS.index("detail")]

    def test_cells_that_would_run_as_formulas_are_neutralised(
        self, sqlite_url, tmp_path
    ):
        """=, +, @ cells get a leading quote; other cells are left as stored."""
        export_dir(sqlite_url, tmp_path / "x", "csv")
        text = (tmp_path / "x" / "events.csv").read_text(encoding="utf-8-sig")
        row = dict(zip(COLUMNS, list(csv.reader(io.StringIO(text)))[4], strict=True))

        assert row["subject_ref"] == '\'=HYPERLINK("http://x.example")'
        assert (row["purpose"], row["dataset"]) == ("'+1", "'@SUM(A1)")
        assert row["caller"] == "campaign-sms"

    @pytest.mark.parametrize(
        ("value", "cell"),
        [
            ("-2+3", "'-2+3"),
            ("\tcmd", "'\tcmd"),
            ("\r=1", "'\r=1"),
            ("a=b", "a=b"),
            (None, ""),
            (7, "7"),
        ],
        ids=["minus", "tab", "carriage-return", "inner-equals", "null", "number"],
    )
    def test_safe_cell(self, value, cell):
        """The OWASP starting characters are quoted; nothing else changes."""
        assert safe_cell(value) == cell


class TestHttpBodies:
    """The two streamed forms of the API verify like a directory export."""

    def test_json_lines_with_a_manifest_trailer_verify(self, url, tmp_path):
        """The body's lines before the last are the directory export's file, byte for byte."""
        body = body_bytes(url, jsonl_body)
        export_dir(url, tmp_path / "x", "jsonl")
        (tmp_path / "api.jsonl").write_bytes(body)

        data, trailer = body.rstrip(b"\n").rsplit(b"\n", 1)
        assert data + b"\n" == (tmp_path / "x" / "events.jsonl").read_bytes()
        assert orjson.loads(trailer)["manifest"]["count"] == len(TRAIL)
        assert problems(tmp_path / "api.jsonl") == []

    def test_a_csv_zip_holds_the_csv_and_its_manifest_and_verifies(self, url, tmp_path):
        """The archive's events.csv equals a directory export's; the archive verifies."""
        body = body_bytes(url, csv_zip_body)
        export_dir(url, tmp_path / "x", "csv")
        (tmp_path / "api.zip").write_bytes(body)

        with zipfile.ZipFile(tmp_path / "api.zip") as archive:
            assert archive.namelist() == ["events.csv", "manifest.json"]
            assert (
                archive.read("events.csv")
                == (tmp_path / "x" / "events.csv").read_bytes()
            )
        assert problems(tmp_path / "api.zip") == []

    def test_when_the_trailer_is_missing_the_stream_was_cut(self, sqlite_url, tmp_path):
        """A body cut before its manifest line does not verify."""
        body = body_bytes(sqlite_url, jsonl_body)
        cut = body.rstrip(b"\n").rsplit(b"\n", 1)[0] + b"\n"
        (tmp_path / "cut.jsonl").write_bytes(cut)

        assert problems(tmp_path / "cut.jsonl") == ["malformed"]


class TestVerification:
    """verify names what is wrong with an export."""

    @pytest.fixture
    def exported(self, sqlite_url, tmp_path) -> Path:
        """A JSON-lines directory export of TRAIL."""
        export_dir(sqlite_url, tmp_path / "x", "jsonl")
        return tmp_path / "x"

    def test_an_untouched_export_verifies(self, exported):
        """No problem, and the manifest is handed back."""
        check = check_export(exported, [SIGNER.public_pem()])

        assert check.ok
        assert check.manifest["count"] == len(TRAIL)

    def test_when_a_byte_of_the_file_changes_then_file_changed(self, exported):
        """One altered character: the digest differs, the count still matches."""
        data = exported / "events.jsonl"
        data.write_bytes(data.read_bytes().replace(b"allowed", b"allowes", 1))

        assert problems(exported) == ["file_changed", "event_altered"]

    def test_when_an_event_is_removed_then_file_changed_count_mismatch_and_seq_gap(
        self, exported
    ):
        """Deleting a line changes the digest, the count and the chain's seqs: all are named."""
        data = exported / "events.jsonl"
        data.write_bytes(b"".join(data.read_bytes().splitlines(keepends=True)[1:]))

        assert problems(exported) == ["file_changed", "count_mismatch", "seq_gap"]

    def test_when_the_manifest_is_edited_then_bad_signature(self, exported):
        """Raising the count in the manifest breaks its signature."""
        path = exported / "manifest.json"
        doc = orjson.loads(path.read_bytes())
        doc["manifest"]["count"] += 1
        path.write_bytes(orjson.dumps(doc))

        assert problems(exported) == ["bad_signature"]

    def test_when_the_signer_lied_about_the_count_then_count_mismatch(self, exported):
        """A validly signed manifest with a wrong count is still caught by counting."""
        path = exported / "manifest.json"
        doc = orjson.loads(path.read_bytes())
        manifest = doc["manifest"]
        digest = Digest()
        digest.add((exported / "events.jsonl").read_bytes(), manifest["count"] + 1)
        resigned = signed_manifest(
            SIGNER,
            _meta_of(manifest),
            name="events.jsonl",
            fmt="jsonl",
            digest=digest,
            coverage=_coverage_of(manifest),
        )
        path.write_bytes(orjson.dumps(resigned))

        assert problems(exported) == ["count_mismatch"]

    @pytest.mark.parametrize(
        ("before", "after"),
        [(b'"outcome":"denied"', b'"outcome":"allowed"'), (b'"seq":3,', b'"seq":3, ')],
        ids=["denial-made-allowed", "same-event-reformatted"],
    )
    def test_a_signed_event_that_does_not_hold_its_hash_is_event_altered(
        self, exported, before, after
    ):
        """What a signer signs, it took from the store: an event the store held
        altered (a denial turned allowed) is caught offline, line by line, even
        under a valid signature; the same event reformatted still verifies."""
        data = exported / "events.jsonl"
        changed = data.read_bytes().replace(before, after, 1)
        data.write_bytes(changed)
        path = exported / "manifest.json"
        manifest = orjson.loads(path.read_bytes())["manifest"]
        digest = Digest()
        digest.add(changed, manifest["count"])
        resigned = signed_manifest(
            SIGNER,
            _meta_of(manifest),
            name="events.jsonl",
            fmt="jsonl",
            digest=digest,
            coverage=_coverage_of(manifest),
        )
        path.write_bytes(orjson.dumps(resigned))

        expected = ["event_altered"] if b"denied" in before else []
        assert problems(exported) == expected

    def test_an_altered_store_is_not_exported(self, tmp_path):
        """The export stops at the first event that does not hold its hash, naming
        it, and leaves no file that looks finished."""
        with store_url("sqlite", tmp_path) as found:
            on_store(found, lambda store: insert_trail(store, TRAIL))
            with closing(
                sqlite3.connect(found.removeprefix("sqlite+aiosqlite:///"))
            ) as conn:
                conn.execute(
                    "UPDATE audit_events SET outcome = 'allowed' WHERE outcome = 'denied'"
                )
                conn.commit()

            with pytest.raises(TrailAltered, match="event 2 of chain"):
                export_dir(found, tmp_path / "x", "jsonl")
        assert list((tmp_path / "x").iterdir()) == []

    def test_when_checked_with_another_key_then_key_mismatch(self, exported):
        """The wrong public key is named as such, not as a bad signature."""
        assert problems(exported, OTHER_SIGNER) == ["key_mismatch"]

    def test_among_several_keys_the_manifests_key_is_found(self, exported):
        """After a rotation the auditor holds every version; the key id picks one."""
        pems = [OTHER_SIGNER.public_pem(), SIGNER.public_pem()]

        assert check_export(exported, pems).ok

    def test_when_the_public_key_is_not_a_key_then_bad_public_key(self, exported):
        """A PEM that is no Ed25519 key is reported, not raised."""
        check = check_export(exported, ["-----BEGIN PUBLIC KEY-----\nAAAA\n"])

        assert [p.code for p in check.problems] == ["bad_public_key"]

    @pytest.mark.parametrize(
        ("remove", "code"),
        [("events.jsonl", "missing_file"), ("manifest.json", "missing_manifest")],
    )
    def test_when_a_file_is_missing_then_it_is_named(self, exported, remove, code):
        """A directory without its data file or manifest says which is missing."""
        (exported / remove).unlink()

        assert problems(exported) == [code]

    @pytest.mark.parametrize("name", ["../../etc/passwd", "sub/events.jsonl", ".."])
    def test_when_the_manifest_names_a_path_then_malformed(self, exported, name):
        """A signed manifest may not point the verifier outside the export."""
        path = exported / "manifest.json"
        manifest = orjson.loads(path.read_bytes())["manifest"]
        digest = Digest()
        digest.add((exported / "events.jsonl").read_bytes(), manifest["count"])
        resigned = signed_manifest(
            SIGNER,
            _meta_of(manifest),
            name=name,
            fmt="jsonl",
            digest=digest,
            coverage=_coverage_of(manifest),
        )
        path.write_bytes(orjson.dumps(resigned))

        assert problems(exported) == ["malformed"]

    def test_when_the_manifest_is_not_json_then_malformed(self, exported):
        """Garbage in manifest.json is `malformed`."""
        (exported / "manifest.json").write_text("{not json")

        assert problems(exported) == ["malformed"]


class TestWriting:
    """A directory export is all there or not there."""

    def test_an_existing_export_is_not_overwritten(self, sqlite_url, tmp_path):
        """Exporting twice into one directory refuses the second time."""
        export_dir(sqlite_url, tmp_path / "x", "csv")
        before = (tmp_path / "x" / "events.csv").read_bytes()

        with pytest.raises(FileExistsError):
            export_dir(sqlite_url, tmp_path / "x", "csv")
        assert (tmp_path / "x" / "events.csv").read_bytes() == before

    def test_when_the_store_fails_midway_then_no_file_is_left(self, tmp_path):
        """A store without the trail's tables fails the export; the directory stays empty."""
        db = tmp_path / "empty.db"

        async def body():
            from adapters.sql.engine import create_engine

            engine = create_engine(f"sqlite+aiosqlite:///{db}")
            try:
                await write_export(
                    engine,
                    EVERYTHING,
                    fmt="jsonl",
                    meta=meta(),
                    signer=SIGNER,
                    out=tmp_path / "x",
                )
            finally:
                await engine.dispose()

        with pytest.raises(Exception, match="no such table"):
            asyncio.run(body())
        assert list((tmp_path / "x").iterdir()) == []


# --- streaming a large range in bounded memory ---------------------------------------

LARGE = 50_000


@pytest.fixture(scope="module")
def large_store(tmp_path_factory) -> str:
    """A store of 50,000 events (a thousand a day for fifty days), built once.

    Rows are stored as the writer stores them, chained: an unfiltered export
    checks that the events of each chain link.
    """
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('large') / 'g.db'}"
    draft = read("s_" + "0" * 32, at(1), detail={"tags": ["高消费", "母婴"]})
    template = draft.columns() | {"chain_id": CHAIN, "prev_hash": "0" * 64}
    rows = [
        template
        | {
            "seq": n + 1,
            "event_id": f"{n:036d}",
            "ts": f"2026-{3 + n // 30_000:02d}-{1 + n // 1000 % 30:02d}T08:00:00.{n:06d}Z",
            "subject_ref": f"s_{n:032x}",
        }
        for n in range(LARGE)
    ]
    prev = genesis_hash(CHAIN)
    for row in rows:
        row["prev_hash"] = prev
        row["hash"] = prev = row_hash(row)
    on_store(url, lambda store: insert_rows(store, rows))
    return url


def peak_while(work) -> int:
    """The peak of memory traced while `work()` runs, in bytes."""
    tracemalloc.start()
    try:
        work()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_large_directory_export_streams_in_bounded_memory(large_store, tmp_path):
    """50,000 events to a file: peak memory stays under a tenth of the file's size."""
    f = EventFilter(since="2026-01-01", until="2026-12-31")
    out = tmp_path / "x"

    peak = peak_while(lambda: export_dir(large_store, out, "jsonl", f))

    size = (out / "events.jsonl").stat().st_size
    assert check_export(out, [SIGNER.public_pem()]).manifest["count"] == LARGE
    assert size > 20_000_000
    assert peak < size / 5


def test_a_large_csv_download_streams_in_bounded_memory(large_store, tmp_path):
    """The zipped CSV of 50,000 events is built chunk by chunk: peak memory is a fraction of it."""
    f = EventFilter(since="2026-01-01", until="2026-12-31")
    download = tmp_path / "export.zip"

    async def save(store):
        with download.open("wb") as sink:
            async for chunk in csv_zip_body(store, f, meta=meta(f), signer=SIGNER):
                sink.write(chunk)

    peak = peak_while(lambda: on_store(large_store, save))

    check = check_export(download, [SIGNER.public_pem()])
    csv_bytes = check.manifest["files"][0]["bytes"]
    assert check.manifest["count"] == LARGE
    assert csv_bytes > 20_000_000
    assert peak < csv_bytes / 5

"""`govproxy consent import FILE`: all rows or none, every bad row named by its line.

Each bad input is checked for its report (line and reason), its exit status (1:
bad rows, 2: the file cannot be read as a consent CSV) and for writing nothing:
no consent event and no audit event.
"""

import codecs
import hashlib
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from factories import subjects

from governance.cli.main import main
from governance.consent import csvfile

HEADER = "subject_id,purpose,notice_version,method,channel,granted_at"
FULL_HEADER = ",".join(csvfile.COLUMNS)
WHEN = "2026-03-01T08:00:00+08:00"


@pytest.fixture
def config(demo_dir: Path) -> Path:
    """The settings file of this test's demo deployment."""
    return demo_dir / "govproxy.yaml"


@pytest.fixture
def free(demo_dir: Path) -> list[str]:
    """Adults with no consent event at all: any grant for them is new."""
    with closing(sqlite3.connect(demo_dir / "governance.db")) as conn:
        touched = {s for (s,) in conn.execute("SELECT subject_id FROM consent_events")}
    return [s for s in subjects(demo_dir, minor=False) if s not in touched]


def govproxy(
    capsys: pytest.CaptureFixture[str], config: Path, *argv: str
) -> tuple[int, str, str]:
    """Run one command line in-process on `config`: exit status, stdout, stderr."""
    code = main(["--config", str(config), "consent", "import", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def counts(demo_dir: Path) -> tuple[Any, ...]:
    """(consent events, audit events) in the governance store."""
    with closing(sqlite3.connect(demo_dir / "governance.db")) as conn:
        return conn.execute(
            "SELECT (SELECT count(*) FROM consent_events),"
            " (SELECT count(*) FROM audit_events)"
        ).fetchone()


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    """Write `text` to `path` byte for byte (no newline translation)."""
    path.write_bytes(text.encode(encoding))
    return path


def analytics(subject: str, when: str = WHEN) -> str:
    """A valid analytics row under HEADER."""
    return f"{subject},analytics,2026.01,click,app,{when}"


class TestGoodFile:
    def test_imports_every_row_and_says_so(
        self, capsys, config, demo_dir, free, tmp_path
    ):
        """Exit 0; one line naming the count, the file and its SHA-256."""
        path = write(
            tmp_path / "ok.csv",
            f"{HEADER}\n{analytics(free[0])}\n{analytics(free[1])}\n",
        )
        before = counts(demo_dir)

        code, out, err = govproxy(capsys, config, str(path))

        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert (code, err) == (0, "")
        assert out == f"imported 2 consents from {path} (sha256 {digest})\n"
        assert counts(demo_dir) == (before[0] + 2, before[1] + 3)

    def test_dry_run_checks_and_writes_nothing(
        self, capsys, config, demo_dir, free, tmp_path
    ):
        """--dry-run reports the file valid and leaves the store alone."""
        path = write(tmp_path / "ok.csv", f"{HEADER}\n{analytics(free[0])}\n")
        before = counts(demo_dir)

        code, out, _ = govproxy(capsys, config, str(path), "--dry-run")

        assert code == 0
        assert out.startswith("dry run: 1 consents in ")
        assert out.rstrip().endswith("nothing imported")
        assert counts(demo_dir) == before

    def test_utf8_with_bom_and_crlf_is_read(
        self, capsys, config, demo_dir, free, tmp_path
    ):
        """Excel's "CSV UTF-8" (BOM, CRLF line ends) imports."""
        text = f"{HEADER}\r\n{analytics(free[0])}\r\n"
        path = tmp_path / "excel.csv"
        path.write_bytes(codecs.BOM_UTF8 + text.encode())

        code, out, _ = govproxy(capsys, config, str(path))

        assert code == 0, out
        assert out.startswith("imported 1 consents")

    def test_gbk_file_imports_with_encoding_gbk(self, capsys, config, free, tmp_path):
        """A GBK file (as Excel saves CSV on Chinese Windows) imports with --encoding gbk."""
        path = write(tmp_path / "gbk.csv", f"{HEADER}\n{analytics(free[0])}\n", "gbk")

        code, out, _ = govproxy(capsys, config, str(path), "--encoding", "gbk")

        assert code == 0, out

    def test_columns_may_come_in_any_order(self, capsys, config, free, tmp_path):
        """The header names the columns; optional ones may be left out."""
        path = write(
            tmp_path / "order.csv",
            "granted_at,channel,method,notice_version,purpose,subject_id,kind\n"
            f"{WHEN},store,signature,2026.01,maternal_care_recommendation,{free[0]},separate\n",
        )

        code, out, _ = govproxy(capsys, config, str(path))

        assert code == 0, out

    def test_help_documents_the_columns(self, capsys):
        """--help prints the header and what each column takes."""
        with pytest.raises(SystemExit):
            main(["consent", "import", "--help"])
        out = capsys.readouterr().out

        assert (
            "subject_id,purpose,notice_version,method,channel,granted_at,kind,grantor,"
            in out
        )
        assert "declared_frequency  like 4/month" in out


# case -> (a row under the full header, a fragment of the reason reported for it)
BAD_ROWS = {
    "missing_value": (
        "{s},analytics,2026.01,click,,{w},,,,,,",
        "required value missing: channel",
    ),
    "unknown_purpose": (
        "{s},telemarketing,2026.01,click,app,{w},,,,,,",
        "purpose names no declared purpose",
    ),
    "retired_notice": (
        "{s},marketing_push,2025.06,click,app,{w},,,,,4/month,",
        "retired notice",
    ),
    "unknown_notice": (
        "{s},analytics,2024.01,click,app,{w},,,,,,",
        "names no notice of this purpose",
    ),
    "pre_ticked": (
        "{s},analytics,2026.01,pre_ticked,app,{w},,,,,,",
        "method 'pre_ticked' is not an affirmative act",
    ),
    "unknown_channel": (
        "{s},analytics,2026.01,click,fax,{w},,,,,,",
        "channel must be one of",
    ),
    "unknown_subject": (
        "C999999,analytics,2026.01,click,app,{w},,,,,,",
        "unknown subject",
    ),
    "future_granted_at": (
        "{s},analytics,2026.01,click,app,2099-01-01T00:00:00Z,,,,,,",
        "granted_at is in the future",
    ),
    "before_notice": (
        "{s},analytics,2026.01,click,app,2025-12-31T08:00:00+08:00,,,,,,",
        "before notice 2026.01 was published",
    ),
    "no_offset": (
        "{s},analytics,2026.01,click,app,2026-03-01T08:00:00,,,,,,",
        "granted_at needs a UTC offset",
    ),
    "not_a_date": (
        "{s},analytics,2026.01,click,app,yesterday,,,,,,",
        "granted_at is not an ISO 8601 date-time",
    ),
    "expired": (
        "{s},analytics,2026.01,click,app,{w},,,,2026-03-02T00:00:00Z,,",
        "expires_at must be in the future",
    ),
    "expiry_past_9999_in_utc": (
        "{s},analytics,2026.01,click,app,{w},,,,9999-12-31T23:59:59-14:00,,",
        "expires_at is out of range",
    ),
    "bad_scope": (
        "{s},analytics,2026.01,click,app,{w},,,identity.customer_id|health.genes,,,",
        "scope must be a non-empty part",
    ),
    "empty_scope_part": (
        "{s},analytics,2026.01,click,app,{w},,,identity.customer_id||contact.phone,,,",
        "scope has an empty category",
    ),
    "no_frequency": (
        "{s},marketing_push,2026.01,click,app,{w},,,,,,",
        "messaging purposes need declared_frequency",
    ),
    "sensitive_general": (
        "{s},maternal_care_recommendation,2026.01,click,app,{w},general,,,,,",
        "sensitive personal information needs separate consent",
    ),
    "guardian_by_self": (
        "{s},analytics,2026.01,click,app,{w},guardian,self,,,,",
        "guardian consent is given by a guardian",
    ),
    "bad_evidence": (
        "{s},analytics,2026.01,click,app,{w},,,,,,abc123",
        "evidence_hash must be 64 hexadecimal digits",
    ),
    "column_count": (
        "{s},analytics,2026.01,click,app,{w}",
        "expected 12 columns, found 6",
    ),
    "nul": (
        "{s},analy\x00tics,2026.01,click,app,{w},,,,,,",
        "NUL character in the row",
    ),
}


class TestBadRows:
    @pytest.mark.parametrize("case", sorted(BAD_ROWS))
    def test_bad_row_is_named_by_line_and_nothing_is_imported(
        self, capsys, config, demo_dir, free, tmp_path, case
    ):
        """Exit 1; `line 3: <reason>`; the good row before it is not imported either."""
        row, reason = BAD_ROWS[case]
        good = f"{free[0]},analytics,2026.01,click,app,{WHEN},,,,,,"
        text = f"{FULL_HEADER}\n{good}\n{row.format(s=free[1], w=WHEN)}\n"
        path = write(tmp_path / "bad.csv", text)
        before = counts(demo_dir)

        code, out, _ = govproxy(capsys, config, str(path))

        assert code == 1
        lines = out.splitlines()
        assert lines[0].startswith("line 3: "), out
        assert reason in lines[0], out
        assert lines[-1] == f"{path}: 1 bad row; nothing imported"
        assert counts(demo_dir) == before

    def test_every_bad_row_is_reported(self, capsys, config, demo_dir, free, tmp_path):
        """All faults at once, each with its line; a second fault of a row is joined."""
        text = (
            f"{HEADER}\n"
            f"{analytics(free[0])}\n"
            f"{free[1]},analytics,2026.01,pre_ticked,app,{WHEN}\n"
            f"{analytics(free[2])}\n"
            f"C999998,telemarketing,2026.01,click,app,{WHEN}\n"
        )
        path = write(tmp_path / "bad.csv", text)
        before = counts(demo_dir)

        code, out, _ = govproxy(capsys, config, str(path), "--dry-run")

        assert code == 1
        assert out.splitlines() == [
            "line 3: method 'pre_ticked' is not an affirmative act of consent",
            "line 5: purpose names no declared purpose; "
            "unknown subject: no catalogued dataset holds it",
            f"{path}: 2 bad rows; nothing imported",
        ]
        assert counts(demo_dir) == before

    def test_duplicate_rows_are_reported(
        self, capsys, config, demo_dir, free, tmp_path
    ):
        """The same consent twice, or the same subject and purpose twice, is refused."""
        text = (
            f"{HEADER}\n{analytics(free[0])}\n{analytics(free[0])}\n"
            f"{analytics(free[0], '2026-04-01T08:00:00+08:00')}\n"
        )
        path = write(tmp_path / "dup.csv", text)
        before = counts(demo_dir)

        code, out, _ = govproxy(capsys, config, str(path))

        assert code == 1
        lines = out.splitlines()
        assert lines[0] == "line 3: duplicate row: same consent as line 2"
        assert lines[1].startswith("line 4: duplicate_subject_purpose: ")
        assert "line 2" in lines[1]
        assert counts(demo_dir) == before

    def test_line_numbers_count_lines_of_the_file(self, capsys, config, free, tmp_path):
        """A quoted value spanning two lines and a blank line shift the next rows' lines."""
        text = (
            f"{HEADER}\n"
            f'{free[0]},analytics,2026.01,click,"a\npp",{WHEN}\n'
            "\n"
            f"{free[1]},analytics,2026.01,pre_ticked,app,{WHEN}\n"
        )
        path = write(tmp_path / "multi.csv", text)

        code, out, _ = govproxy(capsys, config, str(path))

        assert code == 1
        assert out.splitlines()[:2] == [
            "line 2: a value holds a line break",
            "line 5: method 'pre_ticked' is not an affirmative act of consent",
        ]

    def test_a_line_break_inside_a_value_is_refused_not_trimmed(
        self, capsys, config, demo_dir, free, tmp_path
    ):
        """A quoted subject id with a line break at its end named a subject only
        once trimmed: a value is imported as written, or not at all."""
        text = f'{HEADER}\n"{free[0]}\n",analytics,2026.01,click,app,{WHEN}\n'
        path = write(tmp_path / "broken.csv", text)
        before = counts(demo_dir)

        code, out, _ = govproxy(capsys, config, str(path))

        assert (code, out.splitlines()[0]) == (1, "line 2: a value holds a line break")
        assert counts(demo_dir) == before


class TestUnreadableFile:
    def _refused(self, capsys, config, demo_dir, path: Path, *args: str) -> str:
        before = counts(demo_dir)
        code, out, err = govproxy(capsys, config, str(path), *args)
        assert (code, out) == (2, "")
        assert counts(demo_dir) == before
        return err

    def test_gbk_without_encoding_asks_for_it(
        self, capsys, config, demo_dir, free, tmp_path
    ):
        """Bytes that are not UTF-8: exit 2, nothing imported, the fix named."""
        text = f"{HEADER}\n{analytics(free[0])}\n{analytics('会员一号')}\n"
        path = write(tmp_path / "gbk.csv", text, "gbk")

        err = self._refused(capsys, config, demo_dir, path)

        assert (
            err == "govproxy: gbk.csv: line 3: not UTF-8: re-run with --encoding gbk\n"
        )

    @pytest.mark.parametrize("end", ["\r", "\r\n", "\n\r"], ids=["cr", "crlf", "mixed"])
    def test_undecodable_bytes_are_named_at_their_line_whatever_the_line_ends(
        self, capsys, config, demo_dir, free, tmp_path, end
    ):
        """Line numbers count CR, CRLF and LF as the parser does (an old Mac export)."""
        text = end.join([HEADER, analytics(free[0]), analytics("会员一号")]) + end
        if end == "\n\r":  # LF, then CR: two line ends, one blank line
            text = f"{HEADER}\n{analytics(free[0])}\r{analytics('会员一号')}\n"
        path = write(tmp_path / "gbk.csv", text, "gbk")

        err = self._refused(capsys, config, demo_dir, path)

        assert "gbk.csv: line 3: not UTF-8" in err

    @pytest.mark.parametrize("dry_run", [False, True], ids=["import", "dry-run"])
    def test_a_locked_store_is_named_without_a_traceback(
        self, capsys, config, demo_dir, free, tmp_path, monkeypatch, dry_run
    ):
        """Another writer holds the store: exit 2 naming the error's type only."""
        path = write(tmp_path / "ok.csv", f"{HEADER}\n{analytics(free[0])}\n")
        db = demo_dir / "governance.db"
        monkeypatch.setenv("GOV_STORE_URL", f"sqlite+aiosqlite:///{db}?timeout=0.2")
        before = counts(demo_dir)
        with closing(sqlite3.connect(db, isolation_level=None)) as other:
            other.execute("BEGIN IMMEDIATE")
            code, out, err = govproxy(
                capsys, config, str(path), *(["--dry-run"] if dry_run else [])
            )
            other.execute("ROLLBACK")

        assert (code, out) == (2, "")
        assert "the store could not be used (OperationalError" in err
        assert "Traceback" not in err
        assert free[0] not in err
        assert counts(demo_dir) == before

    def test_gbk_is_decoded_with_encoding_gbk(
        self, capsys, config, demo_dir, free, tmp_path
    ):
        """With --encoding gbk the Chinese subject id is read, and is no known subject."""
        text = f"{HEADER}\n{analytics(free[0])}\n{analytics('会员一号')}\n"
        path = write(tmp_path / "gbk.csv", text, "gbk")
        before = counts(demo_dir)

        code, out, _ = govproxy(capsys, config, str(path), "--encoding", "gbk")

        assert code == 1
        assert out.splitlines()[0] == (
            "line 3: unknown subject: no catalogued dataset holds it"
        )
        assert counts(demo_dir) == before

    def test_utf8_file_read_as_gbk_is_refused(
        self, capsys, config, demo_dir, free, tmp_path
    ):
        """A BOM says UTF-8: --encoding gbk would garble it, so it is refused."""
        path = tmp_path / "bom.csv"
        path.write_bytes(codecs.BOM_UTF8 + f"{HEADER}\n{analytics(free[0])}\n".encode())

        err = self._refused(capsys, config, demo_dir, path, "--encoding", "gbk")

        assert "drop --encoding gbk" in err

    def test_utf16_is_refused(self, capsys, config, demo_dir, free, tmp_path):
        """UTF-16 ("Unicode text" in Excel) is named as such."""
        path = write(
            tmp_path / "u16.csv", f"{HEADER}\n{analytics(free[0])}\n", "utf-16"
        )

        assert "UTF-16" in self._refused(capsys, config, demo_dir, path)

    @pytest.mark.parametrize(
        ("header", "reason"),
        [
            (
                "subject_id,purpose,notice,method,channel,granted_at",
                "line 1: column 3 of the header is not a known column",
            ),
            (
                "subject_id,purpose,method,channel,granted_at",
                "line 1: missing required column(s) notice_version",
            ),
            (f"{HEADER},purpose", "line 1: column 'purpose' appears twice"),
            ("", "line 1: header expected"),
        ],
    )
    def test_wrong_header(
        self, capsys, config, demo_dir, free, tmp_path, header, reason
    ):
        """The header must name known columns, each once, the six required ones included."""
        path = write(tmp_path / "hdr.csv", f"{header}\n{analytics(free[0])}\n")

        assert reason in self._refused(capsys, config, demo_dir, path)

    def test_a_file_without_a_header_is_refused_without_echoing_its_data(
        self, capsys, config, demo_dir, free, tmp_path
    ):
        """The first line of a headerless export is a customer's row: never printed."""
        row = "杨旭,16349862552,540121198507226885"
        path = write(tmp_path / "noheader.csv", f"{row}\n{analytics(free[0])}\n")

        err = self._refused(capsys, config, demo_dir, path)

        assert "line 1: column 1 of the header is not a known column" in err
        assert [v for v in row.split(",") if v in err] == []

    def test_a_file_of_mostly_malformed_lines_stops_at_the_limit(
        self, capsys, config, demo_dir, free, tmp_path
    ):
        """Past 1,000 lines of the wrong shape the file is refused whole, at once."""
        text = f"{HEADER}\n{analytics(free[0])}\n" + "a\n" * (csvfile.MAX_MALFORMED + 1)
        path = write(tmp_path / "junk.csv", text)

        err = self._refused(capsys, config, demo_dir, path)

        assert (
            f"more than {csvfile.MAX_MALFORMED} malformed lines, the first line 3:"
            in err
        )

    def test_unbalanced_quote_names_its_line(
        self, capsys, config, demo_dir, free, tmp_path
    ):
        """A quote that never closes swallows the rest of the file: refused at its line."""
        text = f'{HEADER}\n{analytics(free[0])}\n"{analytics(free[1])}\n{analytics(free[2])}\n'
        path = write(tmp_path / "quote.csv", text)

        err = self._refused(capsys, config, demo_dir, path)

        assert "line 3: malformed CSV: unbalanced quotes" in err

    def test_stray_quote_names_its_line(self, capsys, config, demo_dir, free, tmp_path):
        """Text after a closing quote is malformed CSV."""
        text = f'{HEADER}\n{analytics(free[0])}\n"{free[1]}"x,analytics,2026.01,click,app,{WHEN}\n'
        path = write(tmp_path / "quote.csv", text)

        assert "line 3: malformed CSV" in self._refused(capsys, config, demo_dir, path)

    def test_huge_row_is_refused(self, capsys, config, demo_dir, free, tmp_path):
        """A row over 64 KiB stops the import at its line."""
        huge = f"{free[1]},{'x' * 70_000},2026.01,click,app,{WHEN}"
        text = f"{HEADER}\n{analytics(free[0])}\n{huge}\n"
        path = write(tmp_path / "huge.csv", text)

        err = self._refused(capsys, config, demo_dir, path)

        assert err == "govproxy: huge.csv: line 3: row longer than 64 KiB\n"

    def test_file_over_the_size_limit_is_refused(
        self, capsys, config, demo_dir, free, tmp_path, monkeypatch
    ):
        """Files over 200 MB are refused before parsing (limit lowered for the test)."""
        monkeypatch.setattr(csvfile, "MAX_FILE_BYTES", 100)
        path = write(tmp_path / "big.csv", f"{HEADER}\n{analytics(free[0])}\n" * 3)

        assert "larger than 200 MB" in self._refused(capsys, config, demo_dir, path)

    def test_header_only_is_refused(self, capsys, config, demo_dir, tmp_path):
        """A file without rows is most likely the wrong file."""
        path = write(tmp_path / "empty.csv", f"{HEADER}\n")

        assert "no consent rows" in self._refused(capsys, config, demo_dir, path)

    def test_missing_file_is_refused(self, capsys, config, demo_dir, tmp_path):
        """A path that does not exist: exit 2 and the reason."""
        err = self._refused(capsys, config, demo_dir, tmp_path / "nope.csv")

        assert "cannot read" in err


class TestCommit:
    def test_a_failed_commit_stores_nothing(
        self, capsys, config, demo_dir, free, tmp_path
    ):
        """If the store refuses one consent row, no consent and no audit event stays."""
        with closing(sqlite3.connect(demo_dir / "governance.db")) as conn:
            conn.execute(
                "CREATE TRIGGER refuse BEFORE INSERT ON consent_events"
                f" WHEN NEW.subject_id = '{free[2]}'"
                " BEGIN SELECT RAISE(ABORT, 'disk full'); END"
            )
            conn.commit()
        rows = "\n".join(analytics(s) for s in free[:3])
        path = write(tmp_path / "ok.csv", f"{HEADER}\n{rows}\n")
        before = counts(demo_dir)

        code, _, err = govproxy(capsys, config, str(path))

        assert code == 2
        assert "nothing was imported" in err
        assert counts(demo_dir) == before

    def test_import_needs_the_key_file_a_dry_run_does_not(
        self, capsys, config, demo_dir, free, tmp_path
    ):
        """Subjects are named in the trail by the proxy's key: no key file, no import."""
        (demo_dir / "keys.json").unlink()
        path = write(tmp_path / "ok.csv", f"{HEADER}\n{analytics(free[0])}\n")
        before = counts(demo_dir)

        code, _, err = govproxy(capsys, config, str(path))
        dry, _, _ = govproxy(capsys, config, str(path), "--dry-run")

        assert (code, dry) == (2, 0)
        assert "no key file" in err
        assert counts(demo_dir) == before
        assert not (demo_dir / "keys.json").exists()

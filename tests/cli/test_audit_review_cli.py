"""`govproxy audit events|export|verify-export|breach`: the officer's review from the shell."""

import json
import os
from pathlib import Path

import pytest
from trail_rows import at, insert_trail, on_store, query, read

from adapters.keys.local import LocalKeyProvider
from audit.query import EventFilter, list_events
from audit.record import SUBJECT_REFS
from audit.signing import AuditSigner
from governance.cli.main import main
from governance.services import subject_referencer

SMS = "campaign-sms"
WINDOW = ("--since", at(1), "--until", at(20))


@pytest.fixture
def demo(demo_dir) -> Path:
    """The demo deployment with campaign-sms's reads and a query of March 2026 in its trail."""
    ref = subject_referencer(
        LocalKeyProvider(demo_dir / "keys.json").key("subject_ref")[1]
    )
    trail = [
        read(ref("C000004"), at(2)),
        read(ref("C000005"), at(3), outcome="denied", reason="consent_missing"),
        query([ref("C000004"), ref("C000007")], at(4)),
        read(ref("C000009"), at(5), caller="brand-app"),
    ]
    url = f"sqlite+aiosqlite:///{demo_dir / 'governance.db'}"
    on_store(url, lambda store: insert_trail(store, trail, chain="f" * 32))
    return demo_dir


def run(capsys, demo: Path | None, *args: str) -> tuple[int, str, str]:
    """Run govproxy (with the demo's settings, if given); exit status, stdout, stderr."""
    config = ["--config", str(demo / "govproxy.yaml")] if demo else []
    capsys.readouterr()
    code = main([*config, "audit", *args])
    out, err = capsys.readouterr()
    return code, out, err


def trail_of(demo: Path, **filters: str) -> list[dict]:
    """The demo trail's events matching `filters`, newest first."""
    url = f"sqlite+aiosqlite:///{demo / 'governance.db'}"

    async def body(store):
        return (
            await list_events(store, EventFilter(**filters), limit=1000, cursor=None)
        )[0]

    return on_store(url, body)


def public_key(demo: Path, tmp_path: Path) -> Path:
    """The demo's audit public key, as an auditor would receive it."""
    pem = tmp_path / "audit-public.pem"
    signer = AuditSigner.from_keys(LocalKeyProvider(demo / "keys.json"))
    pem.write_text(signer.public_pem(), encoding="utf-8")
    return pem


class TestEvents:
    """`govproxy audit events` lists like the API and is audited like it."""

    def test_json_output_is_only_the_events_and_the_read_is_audited(self, capsys, demo):
        """stdout parses as JSON (logs go to stderr); an audit.read by `cli` is recorded."""
        code, out, _ = run(capsys, demo, "events", "--caller", SMS, "--json", *WINDOW)

        events = json.loads(out)["events"]
        assert code == 0
        assert [e["ts"] for e in events] == [at(4), at(3), at(2)]
        (recorded,) = trail_of(demo, kind="audit.read")
        assert recorded["caller"] == "cli"
        assert recorded["detail"]["os_user"]

    def test_subject_filter_finds_its_reads_and_queries(self, capsys, demo):
        """`--subject C000004` is hashed with the key file: its read and the query."""
        code, out, _ = run(
            capsys, demo, "events", "--subject", "C000004", "--caller", SMS, "--json"
        )

        assert code == 0
        assert [e["kind"] for e in json.loads(out)["events"]] == [
            "access.query",
            "access.read",
        ]

    def test_a_subject_id_that_is_no_text_finds_nothing(self, capsys, demo):
        """A byte that is no UTF-8 on the command line: no event, no traceback."""
        code, out, err = run(capsys, demo, "events", "--subject", "\udcff", "--json")

        assert (code, json.loads(out)["events"], err) == (0, [], "")

    def test_when_the_range_is_reversed_then_exit_2_and_the_refusal_is_audited(
        self, capsys, demo
    ):
        """A bad filter exits 2 with the rule on stderr, and is on the trail as denied."""
        code, out, err = run(capsys, demo, "events", "--since", at(5), "--until", at(2))

        assert (code, out) == (2, "")
        assert "since must be before until" in err
        (recorded,) = trail_of(demo, kind="audit.read")
        assert (recorded["outcome"], recorded["reason"]) == (
            "denied",
            "invalid_time_range",
        )

    def test_text_output_has_one_line_per_event_and_the_next_cursor(self, capsys, demo):
        """Pages of one print the event and how to ask for the next page."""
        code, out, _ = run(capsys, demo, "events", "--caller", SMS, "--limit", "1")

        lines = out.splitlines()
        assert code == 0
        assert lines[0].startswith(f"{at(4)}  access.query  {SMS}")
        assert lines[1].startswith("more: --cursor ")


class TestExport:
    """`govproxy audit export` and `verify-export`."""

    def export(self, capsys, demo: Path, out: Path, fmt: str = "jsonl"):
        """Export campaign-sms's events of the window into `out`."""
        return run(
            capsys,
            demo,
            "export",
            "--format",
            fmt,
            "--out",
            str(out),
            "--caller",
            SMS,
            *WINDOW,
        )

    def test_an_export_verifies_with_only_the_public_key(self, capsys, demo, tmp_path):
        """verify-export needs no settings: the directory and the public key suffice."""
        code, out, _ = self.export(capsys, demo, tmp_path / "x", "csv")
        pem = public_key(demo, tmp_path)

        verified = run(
            capsys, None, "verify-export", str(tmp_path / "x"), "--public-key", str(pem)
        )

        assert code == 0
        assert "exported 3 events" in out
        assert verified[0] == 0
        assert verified[1].startswith("valid: 3 events in events.csv")

    def test_when_the_file_was_changed_then_exit_1_naming_it(
        self, capsys, demo, tmp_path
    ):
        """A changed byte is reported as file_changed."""
        self.export(capsys, demo, tmp_path / "x")
        data = tmp_path / "x" / "events.jsonl"
        data.write_bytes(data.read_bytes().replace(b"allowed", b"allowez", 1))

        code, out, _ = run(
            capsys,
            None,
            "verify-export",
            str(tmp_path / "x"),
            "--public-key",
            str(public_key(demo, tmp_path)),
        )

        assert code == 1
        assert out.startswith("INVALID: file_changed: events.jsonl changed")

    def test_without_a_public_key_the_configured_key_file_is_used(
        self, capsys, demo, tmp_path
    ):
        """On the proxy's own machine the key file's public keys suffice."""
        self.export(capsys, demo, tmp_path / "x")

        code, out, _ = run(capsys, demo, "verify-export", str(tmp_path / "x"))

        assert (code, out.split(":")[0]) == (0, "valid")

    def test_a_key_file_of_several_versions_verifies(self, capsys, demo, tmp_path):
        """A PEM file with another key first, as `audit public-key` prints rotations."""
        self.export(capsys, demo, tmp_path / "x")
        both = tmp_path / "both.pem"
        both.write_text(
            AuditSigner(os.urandom(32), "v2").public_pem()
            + public_key(demo, tmp_path).read_text()
        )

        code, out, _ = run(
            capsys,
            None,
            "verify-export",
            str(tmp_path / "x"),
            "--public-key",
            str(both),
        )

        assert (code, out.split(":")[0]) == (0, "valid")

    def test_when_checked_with_another_key_then_key_mismatch(
        self, capsys, demo, tmp_path
    ):
        """Another signer's public key is named as the wrong key."""
        self.export(capsys, demo, tmp_path / "x")
        other = tmp_path / "other.pem"
        other.write_text(AuditSigner(os.urandom(32), "v1").public_pem())

        code, out, _ = run(
            capsys,
            None,
            "verify-export",
            str(tmp_path / "x"),
            "--public-key",
            str(other),
        )

        assert (code, out.split(":")[:2]) == (1, ["INVALID", " key_mismatch"])

    def test_an_existing_export_is_kept_and_the_second_export_refused(
        self, capsys, demo, tmp_path
    ):
        """Exporting into a directory that holds an export exits 2 and changes nothing."""
        self.export(capsys, demo, tmp_path / "x")
        before = (tmp_path / "x" / "manifest.json").read_bytes()

        code, _, err = self.export(capsys, demo, tmp_path / "x")

        assert code == 2
        assert "already holds an export" in err
        assert (tmp_path / "x" / "manifest.json").read_bytes() == before

    def test_a_directory_that_cannot_be_written_is_refused_and_audited_so(
        self, capsys, demo, tmp_path
    ):
        """Exit 2 naming the directory, no traceback; the trail says denied, not
        an export that never happened."""
        blocker = tmp_path / "file"
        blocker.write_text("not a directory")

        code, out, err = self.export(capsys, demo, blocker / "x")

        assert (code, out) == (2, "")
        assert "cannot write an export there" in err
        assert "Traceback" not in err
        newest = trail_of(demo, kind="audit.export")[0]
        assert (newest["outcome"], newest["reason"]) == ("denied", "invalid_request")

    def test_when_the_export_path_does_not_exist_then_exit_2(self, capsys, tmp_path):
        """verify-export of nothing is a usage error, not INVALID."""
        code, _, err = run(
            capsys, None, "verify-export", str(tmp_path / "nope"), "--public-key", "x"
        )

        assert code == 2
        assert "no such file" in err


class TestBreach:
    """`govproxy audit breach`."""

    def test_json_names_the_subjects_and_fields_received(self, capsys, demo):
        """Resolved through the demo customers: the read's and the query's subjects only."""
        code, out, _ = run(
            capsys, demo, "breach", "--caller", SMS, "--resolve", "--json", *WINDOW
        )

        body = json.loads(out)
        records = {r["subject_id"]: r["fields"] for r in body["records"]}
        assert code == 0
        assert set(records) == {"C000004", "C000007"}
        assert records["C000004"]["name"] == ["mask"]
        assert "name" not in records["C000007"]
        assert body["resolved"] == {"found": 2, "not_found": 0}

    def test_text_lists_each_field_with_its_category(self, capsys, demo):
        """People read one line per field with the subjects per obligation."""
        code, out, _ = run(capsys, demo, "breach", "--caller", SMS, *WINDOW)

        assert code == 0
        assert "  customers.name (identity.name): mask 1" in out.splitlines()
        assert "  subjects: 2" in out.splitlines()

    def test_a_misspelt_caller_exits_2_unknown_caller_and_is_audited(
        self, capsys, demo
    ):
        """campaign_sms was never registered: no "0 subjects" answer, a refusal."""
        code, out, err = run(
            capsys, demo, "breach", "--caller", "campaign_sms", *WINDOW
        )

        (event,) = trail_of(demo, kind="audit.breach")
        assert code == 2
        assert out == ""
        assert "no caller of that name was ever registered" in err
        assert (event["outcome"], event["reason"]) == ("denied", "unknown_caller")

    def test_text_names_sensitive_tags_recipients_and_purged_events(self, capsys, demo):
        """What a notification must say beyond fields is printed for people too."""
        abroad = {"name": "hq-analytics-sg", "cross_border": True}
        detail = {SUBJECT_REFS: ["s_t"], "tags": ["孕期"], "recipient": abroad}
        purged = read(
            None,
            at(6),
            caller=None,
            purpose=None,
            dataset=None,
            fields=(),
            obligations={},
            detail={"purged_by": "p" * 32},
        )
        url = f"sqlite+aiosqlite:///{demo / 'governance.db'}"
        on_store(url, lambda store: insert_trail(
            store, [query(["s_t"], at(5), detail=detail), purged], chain="e" * 32
        ))  # fmt: skip

        code, out, _ = run(capsys, demo, "breach", "--caller", SMS, *WINDOW)

        lines = out.splitlines()
        assert code == 0
        assert (
            "  selected by tag customers:孕期 (health.fertility, sensitive): 1" in lines
        )
        assert "  provided to hq-analytics-sg (abroad): 1" in lines
        assert any(line.startswith("  purged by retention: 1 ") for line in lines)

    def test_when_the_caller_is_missing_then_exit_2(self, capsys, demo):
        """The breach kit needs to know whose receipts to look at."""
        code, _, err = run(capsys, demo, "breach", *WINDOW)

        assert code == 2
        assert "--caller is required" in err

"""`govproxy audit verify|checkpoint|prove|verify-proof|public-key` over a demo deployment."""

import json
import sqlite3
from contextlib import closing
from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from sealed_trails import STRANGER

from audit.checkpoint_store import checkpoint_doc
from audit.purges import EMPTIED
from governance.cli.main import main


@pytest.fixture
def config(demo_dir: Path) -> Path:
    """The settings file of this test's demo deployment."""
    return demo_dir / "govproxy.yaml"


def govproxy(capsys, *argv: str, config: Path | None = None) -> tuple[int, str, str]:
    """Run one command in-process: exit status, stdout, stderr."""
    code = main([*(["--config", str(config)] if config else []), *argv])
    out, err = capsys.readouterr()
    return code, out, err


def sql(demo_dir: Path, statement: str, *params: object) -> list[tuple]:
    """Run one statement on the demo's governance store."""
    with closing(sqlite3.connect(demo_dir / "governance.db")) as conn:
        rows = conn.execute(statement, params).fetchall()
        conn.commit()
    return rows


def stored_checkpoints(demo_dir: Path) -> list[SimpleNamespace]:
    """The store's checkpoint rows, oldest first."""
    rows = sql(
        demo_dir,
        "SELECT number, body, key_id, signature FROM audit_checkpoints ORDER BY number",
    )
    return [
        SimpleNamespace(number=n, body=b, key_id=k, signature=sig)
        for n, b, k, sig in rows
    ]


@pytest.fixture
def public_key(capsys, config: Path, tmp_path: Path) -> Path:
    """The deployment's audit public key(s), saved as an auditor would keep them."""
    code, out, _ = govproxy(capsys, "audit", "public-key", config=config)
    assert code == 0
    path = tmp_path / "pub.pem"
    path.write_text(out)
    return path


ADD_CALLER = (
    "callers",
    "add",
    "crm-sync",
    "--role",
    "service",
    "--purpose",
    "analytics",
)


@pytest.fixture
def sealed(capsys, config: Path, demo_dir: Path) -> Path:
    """The demo deployment (sealed when built) with a second checkpoint: its directory."""
    assert govproxy(capsys, *ADD_CALLER, config=config)[0] == 0
    assert govproxy(capsys, "audit", "checkpoint", config=config)[0] == 0
    return demo_dir


class TestCheckpointAndVerify:
    """Sealing, and verification with the configured key or a given one."""

    def test_a_fresh_demo_is_sealed_and_verifies(self, capsys, config):
        """The demo seals its trail when built: verify counts every event as sealed."""
        code, out, _ = govproxy(capsys, "audit", "verify", config=config)

        assert code == 0
        assert "sealed in 1 signed checkpoints" in out
        assert "0 not sealed yet" in out

    def test_a_store_from_before_checkpoints_says_nothing_is_sealed(
        self, capsys, config, demo_dir
    ):
        """Without any checkpoint, the trail is intact and the report says it is unsealed."""
        for table in ("audit_checkpoints", "audit_nodes", "audit_leaves"):
            sql(demo_dir, f"DELETE FROM {table}")  # noqa: S608 - fixed names

        code, out, _ = govproxy(capsys, "audit", "verify", config=config)

        assert code == 0
        assert "intact" in out
        assert "no signed checkpoint yet" in out

    def test_checkpoint_seals_new_events_and_verify_counts_them(self, capsys, config):
        """`audit checkpoint` seals what was added since; `verify` counts it as sealed."""
        govproxy(capsys, *ADD_CALLER, config=config)

        code, out, _ = govproxy(capsys, "audit", "checkpoint", config=config)
        _, report, _ = govproxy(capsys, "audit", "verify", config=config)

        assert code == 0
        assert out.startswith("checkpoint 2: sealed 1 events; tree size ")
        assert "sealed in 2 signed checkpoints" in report
        assert "0 not sealed yet" in report

    def test_with_nothing_new_no_checkpoint_is_made(self, capsys, config):
        """Sealing with nothing new says so and makes no checkpoint."""
        code, out, _ = govproxy(capsys, "audit", "checkpoint", config=config)

        assert code == 0
        assert out.startswith("nothing new to seal; latest checkpoint 1 ")

    def test_verify_with_the_right_public_key_passes(
        self, capsys, config, sealed, public_key
    ):
        """Given the deployment's public key file, verification passes."""
        code, out, _ = govproxy(
            capsys, "audit", "verify", "--public-key", str(public_key), config=config
        )

        assert (code, "intact" in out) == (0, True)

    def test_verify_with_a_wrong_public_key_says_so(
        self, capsys, config, sealed, tmp_path
    ):
        """Another signer's key fails with `key_mismatch` naming the signing key."""
        wrong = tmp_path / "wrong.pem"
        wrong.write_text(STRANGER.public_pem())

        code, out, _ = govproxy(
            capsys, "audit", "verify", "--public-key", str(wrong), config=config
        )

        assert code == 1
        assert "NOT intact: key_mismatch at checkpoint 1" in out
        assert STRANGER.key_id in out

    def test_a_deleted_checkpoint_is_reported_missing(self, capsys, config, sealed):
        """Removing checkpoint 1 makes verify exit 1 naming the missing checkpoint."""
        sql(sealed, "DELETE FROM audit_checkpoints WHERE number = 1")

        code, out, _ = govproxy(capsys, "audit", "verify", config=config)

        assert code == 1
        assert "NOT intact: checkpoint_missing at checkpoint 1" in out

    def test_a_store_whose_newest_checkpoint_was_removed_fails_against_a_kept_one(
        self, capsys, config, sealed, public_key, tmp_path
    ):
        """Checkpoint 2 removed with its leaves and nodes: the store verifies on its
        own, but not against checkpoint 2 as an auditor kept it."""
        kept = tmp_path / "kept.json"
        kept.write_text(
            json.dumps(
                {"checkpoints": [checkpoint_doc(r) for r in stored_checkpoints(sealed)]}
            )
        )
        extends = govproxy(
            capsys, "audit", "verify", "--kept", str(kept), config=config
        )
        ((first_size,),) = sql(
            sealed, "SELECT tree_size FROM audit_checkpoints WHERE number = 1"
        )
        sql(sealed, "DELETE FROM audit_checkpoints WHERE number = 2")
        sql(sealed, "DELETE FROM audit_leaves WHERE leaf_index >= ?", first_size)
        sql(
            sealed,
            "DELETE FROM audit_nodes WHERE ((idx + 1) << level) > ?",
            first_size,
        )

        alone = govproxy(capsys, "audit", "verify", config=config)
        against = govproxy(
            capsys,
            "audit",
            "verify",
            "--public-key",
            str(public_key),
            "--kept",
            str(kept),
            config=config,
        )

        assert extends[0] == 0
        assert "extends 2 kept checkpoints" in extends[1]
        assert alone[0] == 0
        assert against[0] == 1
        assert "smaller than kept checkpoint 2" in against[1]

    def test_a_kept_checkpoint_signed_by_another_key_is_refused(
        self, capsys, config, sealed, tmp_path
    ):
        doc = checkpoint_doc(stored_checkpoints(sealed)[0])
        doc["checkpoint"]["root_hash"] = "0" * 64
        kept = tmp_path / "kept.jsonl"
        kept.write_text(json.dumps(doc) + "\n")

        code, _, err = govproxy(
            capsys, "audit", "verify", "--kept", str(kept), config=config
        )

        assert code == 2
        assert "a kept checkpoint fails: bad_signature" in err

    def test_a_file_that_is_no_public_key_is_refused(self, capsys, config, tmp_path):
        """A `--public-key` file without an Ed25519 PEM stops with exit 2 and a reason."""
        junk = tmp_path / "junk.pem"
        junk.write_text("hello")

        code, _, err = govproxy(
            capsys, "audit", "verify", "--public-key", str(junk), config=config
        )

        assert code == 2
        assert "not an Ed25519 public key" in err


class TestProofs:
    """Proofs from the store, checked offline with only the public key."""

    def test_an_inclusion_proof_checks_with_no_settings_or_store(
        self, capsys, config, sealed, public_key, tmp_path, monkeypatch
    ):
        """`prove --event-id` output verifies in an empty directory, with only the key."""
        ((event_id,),) = sql(sealed, "SELECT event_id FROM audit_events LIMIT 1")
        code, out, _ = govproxy(
            capsys, "audit", "prove", "--event-id", event_id, config=config
        )
        proof = tmp_path / "proof.json"
        proof.write_text(out)
        monkeypatch.chdir(tmp_path)

        checked, report, _ = govproxy(
            capsys, "audit", "verify-proof", str(proof), "--public-key", str(public_key)
        )

        assert code == 0
        assert checked == 0
        assert report.startswith(f"valid: event {event_id} ")

    def test_a_tampered_proof_is_invalid_with_its_reason(
        self, capsys, config, sealed, public_key, tmp_path
    ):
        """A proof whose event was edited exits 1 with `event_altered`."""
        ((event_id,),) = sql(sealed, "SELECT event_id FROM audit_events LIMIT 1")
        _, out, _ = govproxy(
            capsys, "audit", "prove", "--event-id", event_id, config=config
        )
        doc = json.loads(out)
        doc["event"]["outcome"] = "denied"
        proof = tmp_path / "proof.json"
        proof.write_text(json.dumps(doc))

        code, report, _ = govproxy(
            capsys, "audit", "verify-proof", str(proof), "--public-key", str(public_key)
        )

        assert (code, report.split(":")[0:2]) == (1, ["INVALID", " event_altered"])

    def test_a_proof_rewritten_as_a_purged_made_up_event_names_no_event(
        self, capsys, config, sealed, public_key, tmp_path
    ):
        """A real proof whose event is rewritten as a tombstone of a made-up event:
        verify-proof vouches for the leaf only, never the invented id, kind or time."""
        ((event_id,),) = sql(sealed, "SELECT event_id FROM audit_events LIMIT 1")
        _, out, _ = govproxy(
            capsys, "audit", "prove", "--event-id", event_id, config=config
        )
        doc = json.loads(out)
        doc["event"] |= EMPTIED | {
            "event_id": "made-up-event",
            "kind": "consent.withdrawn",
            "ts": "2026-01-01T00:00:00.000000Z",
            "detail": '{"purged_by":"anything"}',
        }
        proof = tmp_path / "proof.json"
        proof.write_text(json.dumps(doc))

        code, report, _ = govproxy(
            capsys, "audit", "verify-proof", str(proof), "--public-key", str(public_key)
        )

        assert code == 0
        assert report.startswith(f"valid: leaf {doc['leaf_index']} of checkpoint ")
        assert "purged by retention; its content is not in the proof" in report
        for claimed in ("made-up-event", "consent.withdrawn", "2026-01-01", "anything"):
            assert claimed not in report

    def test_a_consistency_proof_between_checkpoints_checks(
        self, capsys, config, sealed, public_key, tmp_path
    ):
        """`prove --from SIZE1 --to SIZE2` verifies with the configured key."""
        sizes = [s for (s,) in sql(sealed, "SELECT tree_size FROM audit_checkpoints")]
        _, out, _ = govproxy(
            capsys,
            "audit",
            "prove",
            "--from",
            str(min(sizes)),
            "--to",
            str(max(sizes)),
            config=config,
        )
        proof = tmp_path / "proof.json"
        proof.write_text(out)

        code, report, _ = govproxy(
            capsys, "audit", "verify-proof", str(proof), config=config
        )

        assert code == 0
        assert "checkpoint 1" in report
        assert "is a prefix of checkpoint 2" in report

    def test_an_unknown_event_has_no_proof(self, capsys, config, sealed):
        """Proving an id no event has exits 2 with a reason and prints no proof."""
        code, out, err = govproxy(
            capsys, "audit", "prove", "--event-id", "nope", config=config
        )

        assert (code, out) == (2, "")
        assert "no audit event has this id" in err

    def test_to_without_from_is_refused(self, capsys, config):
        """`--to` belongs to a consistency proof: with `--event-id` it is an error."""
        code, out, err = govproxy(
            capsys, "audit", "prove", "--event-id", "x", "--to", "5", config=config
        )

        assert (code, out) == (2, "")
        assert "--to goes with --from" in err

    @pytest.mark.parametrize(
        "size", ["999999999999999999999999", str(2**31), str(2**40), "0", "-3", "x"]
    )
    def test_a_tree_size_out_of_range_is_a_usage_error(self, capsys, config, size):
        with pytest.raises(SystemExit) as exited:  # argparse's usage error
            govproxy(capsys, "audit", "prove", "--from", size, config=config)
        out, err = capsys.readouterr()

        assert (exited.value.code, out) == (2, "")
        assert "tree size" in err

    @pytest.mark.parametrize("event_id", ["a\x1fb", "\x7f", "x" * 37])
    def test_an_event_id_with_a_control_character_is_a_usage_error(
        self, capsys, config, event_id
    ):
        """Control characters, or more than 36 characters: usage error, id not echoed."""
        with pytest.raises(SystemExit) as exited:  # argparse's usage error
            govproxy(capsys, "audit", "prove", "--event-id", event_id, config=config)
        out, err = capsys.readouterr()

        assert (exited.value.code, out) == (2, "")
        assert "an event id is 1 to 36 characters" in err

    def test_a_file_that_is_no_proof_is_invalid(self, capsys, public_key, tmp_path):
        """Unreadable or non-JSON input is INVALID (malformed), exit 1."""
        junk = tmp_path / "junk.json"
        junk.write_text("{not json")

        code, out, _ = govproxy(
            capsys, "audit", "verify-proof", str(junk), "--public-key", str(public_key)
        )

        assert (code, out.startswith("INVALID: malformed")) == (1, True)

    def test_without_a_key_file_verify_proof_asks_for_a_public_key(
        self, capsys, tmp_path, monkeypatch
    ):
        """With no key file configured or given, the command says what is missing."""
        monkeypatch.chdir(tmp_path)
        (tmp_path / "proof.json").write_text("{}")

        code, _, err = govproxy(capsys, "audit", "verify-proof", "proof.json")

        assert code == 2
        assert "no key file (or pass --public-key)" in err


class TestExportAgainstTheSealedTrail:
    """The reviewer's repro on a demo store: delete a sealed event, export, put it back."""

    def test_an_export_missing_a_sealed_event_is_refused_and_not_signed(
        self, capsys, config, sealed, tmp_path
    ):
        """`audit export` exits 2 naming the event and leaves no manifest; with the
        row put back, `audit verify`, the export and `verify-export` all pass."""
        ((chain, seq),) = sql(
            sealed,
            "SELECT chain_id, MAX(seq) - 1 FROM audit_leaves GROUP BY chain_id"
            " ORDER BY COUNT(*) DESC LIMIT 1",
        )
        ((first, last),) = sql(
            sealed,
            "SELECT substr(MIN(ts), 1, 10), substr(MAX(ts), 1, 10) FROM audit_events",
        )
        until = (date.fromisoformat(last) + timedelta(days=1)).isoformat()
        (row,) = sql(
            sealed,
            "SELECT * FROM audit_events WHERE chain_id = ? AND seq = ?",
            chain,
            seq,
        )
        sql(
            sealed,
            "DELETE FROM audit_events WHERE chain_id = ? AND seq = ?",
            chain,
            seq,
        )
        span = ("--since", first, "--until", until)

        def export(out):
            return govproxy(
                capsys,
                *("audit", "export", "--format", "jsonl", "--out", str(out), *span),
                config=config,
            )

        code, _, err = export(tmp_path / "exp")

        assert code == 2
        assert f"event {seq} of chain {chain} is missing from the store" in err
        assert not (tmp_path / "exp" / "manifest.json").exists()
        marks = ", ".join("?" * len(row))
        sql(sealed, f"INSERT INTO audit_events VALUES ({marks})", *row)  # noqa: S608 - marks only
        assert govproxy(capsys, "audit", "verify", config=config)[0] == 0
        assert export(tmp_path / "again")[0] == 0
        code, out, _ = govproxy(
            capsys, "audit", "verify-export", str(tmp_path / "again"), config=config
        )
        assert (code, out.startswith("valid: ")) == (0, True)


@pytest.mark.parametrize("command", [("public-key",), ("verify",)])
def test_a_key_file_without_the_audit_key_is_refused_and_left_as_it_was(
    capsys, config: Path, demo_dir: Path, command: tuple[str, ...]
):
    """An auditor's command only reads the key file: one lacking `audit_signing`
    is an error (exit 2), not a fresh key written into it and handed out as the
    one that signed the checkpoints."""
    keys = demo_dir / "keys.json"
    stored = json.loads(keys.read_text())
    del stored["keys"]["audit_signing"]
    keys.write_text(json.dumps(stored))
    before = keys.read_bytes()

    code, out, err = govproxy(capsys, "audit", *command, config=config)

    assert (code, out) == (2, "")
    assert "no 'audit_signing' key" in err
    assert keys.read_bytes() == before

"""`consent verify-receipt` on hostile input, on a key file lacking the receipt
key, and what it says about who agreed and until when."""

import json
from pathlib import Path
from typing import Any

import pytest

from governance.cli.main import main
from governance.consent.receipts import ReceiptSigner

SIGNER = ReceiptSigner(bytes(range(32)), "v1")
RECEIPT: dict[str, Any] = {
    "receipt_id": "5b0e7c2a-1d3f-4e6a-9b8c-7d6e5f4a3b2c",
    "subject_id": "C000321",
    "purpose": "marketing_push",
    "scope": ["contact"],
    "kind": "general",
    "grantor": "self",
    "notice_version": "2026-01",
    "method": "checkbox",
    "channel": "app",
    "evidence_hash": None,
    "granted_at": "2026-03-01T08:00:00Z",
    "expires_at": None,
    "declared_frequency": None,
    "issuer": "Demo Brand",
}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run one command line in-process: exit status, stdout, stderr."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def pem_file(tmp_path: Path) -> Path:
    """The test signer's public key as a PEM file."""
    path = tmp_path / "receipt-key.pem"
    path.write_text(SIGNER.public_pem(), encoding="utf-8")
    return path


def verify_text(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, pem: Path, text: str
) -> tuple[int, str, str]:
    """`consent verify-receipt` of a file holding `text`, with the test key."""
    path = tmp_path / "receipt.json"
    path.write_text(text, encoding="utf-8")
    return run(capsys, "consent", "verify-receipt", str(path), "--public-key", str(pem))


class TestHostileFiles:
    def test_a_deeply_nested_file_is_malformed_not_a_traceback(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path, pem_file: Path
    ) -> None:
        """Nesting deeper than the parser's stack is one line, exit 1."""
        result = verify_text(capsys, tmp_path, pem_file, "[" * 30000 + "]" * 30000)

        assert result == (1, "INVALID: malformed\n", "")

    def test_a_genuine_receipt_padded_past_64_kib_is_not_parsed(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path, pem_file: Path
    ) -> None:
        """A receipt is about 1 KiB: a file over 64 KiB is refused unread."""
        padded = json.dumps(SIGNER.sign(RECEIPT)) + " " * 64 * 1024

        result = verify_text(capsys, tmp_path, pem_file, padded)

        assert result == (1, "INVALID: malformed\n", "")

    @pytest.mark.parametrize("stand_in", ["NaN", "-Infinity", "Infinity", "1e999"])
    def test_null_replaced_by_a_non_finite_number_is_malformed(
        self,
        capsys: pytest.CaptureFixture[str],
        tmp_path: Path,
        pem_file: Path,
        stand_in: str,
    ) -> None:
        """The signed bytes hold null there, but the file states something else
        (and is not even JSON): it must not verify."""
        genuine = json.dumps(SIGNER.sign(RECEIPT))
        forged = genuine.replace('"expires_at": null', f'"expires_at": {stand_in}')

        result = verify_text(capsys, tmp_path, pem_file, forged)

        assert forged != genuine
        assert result == (1, "INVALID: malformed\n", "")


class TestWhatAValidReceiptSays:
    def test_a_guardians_grant_names_the_guardian(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path, pem_file: Path
    ) -> None:
        """A guardian's consent does not read as the subject's own."""
        doc = SIGNER.sign(RECEIPT | {"kind": "guardian", "grantor": "guardian"})

        code, out, _ = verify_text(capsys, tmp_path, pem_file, json.dumps(doc))

        assert code == 0
        assert out.splitlines()[1:] == [
            "  the guardian of subject C000321 agreed to marketing_push (guardian,"
            " scope contact) at 2026-03-01T08:00:00Z under notice 2026-01",
            "  no expiry",
        ]

    def test_an_expired_grant_says_so(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path, pem_file: Path
    ) -> None:
        """The signature outlives the grant: a lapsed grant is marked EXPIRED."""
        doc = SIGNER.sign(RECEIPT | {"expires_at": "2026-04-01T00:00:00.000000Z"})

        code, out, _ = verify_text(capsys, tmp_path, pem_file, json.dumps(doc))

        assert code == 0
        assert out.splitlines()[1].startswith("  subject C000321 agreed to ")
        assert out.splitlines()[2] == (
            "  EXPIRED at 2026-04-01T00:00:00.000000Z: the grant no longer counts"
        )

    def test_a_future_expiry_is_shown(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path, pem_file: Path
    ) -> None:
        doc = SIGNER.sign(RECEIPT | {"expires_at": "2099-01-01T00:00:00.000000Z"})

        code, out, _ = verify_text(capsys, tmp_path, pem_file, json.dumps(doc))

        assert (code, out.splitlines()[2]) == (
            0,
            "  expires 2099-01-01T00:00:00.000000Z",
        )


class TestKeyFileWithoutReceiptKey:
    @pytest.fixture
    def config(self, demo_dir: Path) -> Path:
        """The demo deployment, its key file stripped of `receipt_signing`."""
        keys_file = demo_dir / "keys.json"
        doc = json.loads(keys_file.read_text(encoding="utf-8"))
        del doc["keys"]["receipt_signing"]
        keys_file.write_text(json.dumps(doc), encoding="utf-8")
        return demo_dir / "govproxy.yaml"

    @pytest.mark.parametrize(
        "command",
        [["consent", "public-key"], ["consent", "public-key", "--all"], ["verify"]],
        ids=["public-key", "public-key-all", "verify-receipt"],
    )
    def test_exits_2_naming_file_and_key_and_writes_nothing(
        self,
        capsys: pytest.CaptureFixture[str],
        tmp_path: Path,
        demo_dir: Path,
        config: Path,
        command: list[str],
    ) -> None:
        """No fresh key is minted (auditors would be handed a key that never
        signed anything), and the real problem is named, not `key_mismatch`."""
        receipt = tmp_path / "receipt.json"
        receipt.write_text(json.dumps(SIGNER.sign(RECEIPT)), encoding="utf-8")
        if command == ["verify"]:
            command = ["consent", "verify-receipt", str(receipt)]
        keys_file = demo_dir / "keys.json"
        before = keys_file.read_bytes()

        code, out, err = run(capsys, "--config", str(config), *command)

        assert (code, out) == (2, "")
        assert err.count("\n") == 1
        assert str(keys_file) in err
        assert "'receipt_signing'" in err
        assert keys_file.read_bytes() == before
        assert not keys_file.with_name("keys.json.tmp").exists()

"""`govproxy consent verify-receipt` and `consent public-key` over files and a demo."""

import io
import json
from pathlib import Path
from typing import Any

import pytest

from adapters.keys.local import LocalKeyProvider
from governance.cli.main import main
from governance.consent.receipts import ReceiptSigner

RECEIPT: dict[str, Any] = {
    "receipt_id": "9c1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e5f",
    "subject_id": "C000123",
    "purpose": "marketing_push",
    "scope": ["contact"],
    "kind": "general",
    "grantor": "self",
    "notice_version": "2026-01",
    "method": "checkbox",
    "channel": "sms",
    "evidence_hash": None,
    "granted_at": "2026-03-01T08:00:00Z",
    "expires_at": "2099-03-01T08:00:00Z",
    "declared_frequency": None,
    "issuer": "Demo Brand",
}
SIGNER = ReceiptSigner(bytes(range(32)), "v1")


def valid(signer: ReceiptSigner) -> str:
    """What verify-receipt prints for RECEIPT signed by `signer`: what it states."""
    return (
        f"valid: receipt {RECEIPT['receipt_id']}, signed by {signer.key_id}\n"
        "  subject C000123 agreed to marketing_push (general, scope contact)"
        " at 2026-03-01T08:00:00Z under notice 2026-01\n"
        "  expires 2099-03-01T08:00:00Z\n"
    )


VALID = valid(SIGNER)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run one command line in-process: exit status, stdout, stderr."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def verify(
    capsys: pytest.CaptureFixture[str], receipt: str, pem: str
) -> tuple[int, str, str]:
    """`consent verify-receipt RECEIPT --public-key PEM`."""
    return run(capsys, "consent", "verify-receipt", receipt, "--public-key", pem)


def write_json(path: Path, doc: Any) -> Path:
    """Write `doc` as JSON to `path` and return the path."""
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


@pytest.fixture
def pem_file(tmp_path: Path) -> Path:
    """The test signer's public key as a PEM file."""
    path = tmp_path / "receipt-key.pem"
    path.write_text(SIGNER.public_pem(), encoding="utf-8")
    return path


@pytest.fixture
def receipt_file(tmp_path: Path) -> Path:
    """A receipt signed by the test signer, as a JSON file."""
    return write_json(tmp_path / "receipt.json", SIGNER.sign(RECEIPT))


class TestVerifyWithPublicKeyFile:
    def test_valid_receipt_exits_0(
        self, capsys: pytest.CaptureFixture[str], receipt_file: Path, pem_file: Path
    ) -> None:
        """A genuine receipt is reported valid with its id, purpose and key id."""
        code, out, err = verify(
            capsys,
            str(receipt_file),
            str(pem_file),
        )

        assert (code, out, err) == (0, VALID, "")

    def test_tampered_receipt_is_bad_signature(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path, pem_file: Path
    ) -> None:
        """A receipt whose purpose was edited after signing exits 1 as bad_signature."""
        doc = SIGNER.sign(RECEIPT)
        doc["receipt"]["purpose"] = "precision_ads"
        path = write_json(tmp_path / "tampered.json", doc)

        code, out, _ = verify(
            capsys,
            str(path),
            str(pem_file),
        )

        assert (code, out) == (1, "INVALID: bad_signature\n")

    def test_other_key_is_key_mismatch(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path, receipt_file: Path
    ) -> None:
        """A receipt checked against some other public key exits 1 as key_mismatch."""
        other = tmp_path / "other.pem"
        other.write_text(ReceiptSigner(b"\x07" * 32, "v1").public_pem())

        code, out, _ = verify(
            capsys,
            str(receipt_file),
            str(other),
        )

        assert (code, out) == (1, "INVALID: key_mismatch\n")

    @pytest.mark.parametrize(
        "content",
        [b"", b"{not json", b"\xff\xfe", b"[]", b'{"format": 1}'],
        ids=["empty", "bad-json", "not-utf8", "array", "partial"],
    )
    def test_garbage_file_is_malformed(
        self,
        capsys: pytest.CaptureFixture[str],
        tmp_path: Path,
        pem_file: Path,
        content: bytes,
    ) -> None:
        """An empty or non-receipt file exits 1 as malformed, no traceback."""
        path = tmp_path / "receipt.json"
        path.write_bytes(content)

        code, out, err = verify(
            capsys,
            str(path),
            str(pem_file),
        )

        assert (code, out, err) == (1, "INVALID: malformed\n", "")

    def test_a_file_that_cannot_be_read_exits_2_not_invalid(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path, pem_file: Path
    ) -> None:
        """A typo in the path is not a forged receipt."""
        code, out, err = verify(
            capsys,
            str(tmp_path / "nope.json"),
            str(pem_file),
        )

        assert (code, out) == (2, "")
        assert "cannot read receipt" in err

    def test_a_receipt_naming_a_field_twice_is_malformed(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path, pem_file: Path
    ) -> None:
        """A second subject_id put in front of the signed one: a reader would see
        one subject while the signature covers the other."""
        genuine = json.dumps(SIGNER.sign(RECEIPT))
        forged = genuine.replace(
            '"receipt": {', '"receipt": {"subject_id": "C009999", ', 1
        )
        path = tmp_path / "forged.json"
        path.write_text(forged, encoding="utf-8")

        code, out, _ = verify(
            capsys,
            str(path),
            str(pem_file),
        )

        assert forged.count('"subject_id"') == 2
        assert (code, out) == (1, "INVALID: malformed\n")

    def test_a_receipt_saved_with_a_bom_verifies(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path, pem_file: Path
    ) -> None:
        path = tmp_path / "bom.json"
        path.write_bytes(b"\xef\xbb\xbf" + json.dumps(SIGNER.sign(RECEIPT)).encode())

        code, out, _ = verify(
            capsys,
            str(path),
            str(pem_file),
        )

        assert (code, out) == (0, VALID)

    def test_receipt_from_stdin(
        self,
        capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch,
        pem_file: Path,
    ) -> None:
        """FILE `-` reads the receipt from standard input."""
        raw = json.dumps(SIGNER.sign(RECEIPT)).encode()
        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(raw)))

        code, out, _ = verify(capsys, "-", str(pem_file))

        assert (code, out) == (0, VALID)

    def test_missing_public_key_file_exits_2(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path, receipt_file: Path
    ) -> None:
        """An unreadable public key file is a usage error naming the file."""
        missing = tmp_path / "nowhere.pem"

        code, out, err = verify(
            capsys,
            str(receipt_file),
            str(missing),
        )

        assert code == 2
        assert out == ""
        assert str(missing) in err
        assert "Traceback" not in err


class TestWithDemoDeployment:
    @pytest.fixture
    def config(self, demo_dir: Path) -> Path:
        """The settings file of this test's demo deployment."""
        return demo_dir / "govproxy.yaml"

    @pytest.fixture
    def demo_signer(self, demo_dir: Path) -> ReceiptSigner:
        """The receipt signer of the demo deployment's key file."""
        return ReceiptSigner.from_keys(LocalKeyProvider(demo_dir / "keys.json"))

    def test_verify_with_configured_key_file(
        self,
        capsys: pytest.CaptureFixture[str],
        tmp_path: Path,
        config: Path,
        demo_signer: ReceiptSigner,
    ) -> None:
        """Without --public-key the deployment's own receipt key is used."""
        path = write_json(tmp_path / "receipt.json", demo_signer.sign(RECEIPT))

        code, out, _ = run(
            capsys, "--config", str(config), "consent", "verify-receipt", str(path)
        )

        assert (code, out) == (0, valid(demo_signer))

    def test_config_from_environment(
        self,
        capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch,
        config: Path,
        receipt_file: Path,
    ) -> None:
        """GOV_CONFIG_FILE names the deployment; another signer's receipt mismatches."""
        monkeypatch.setenv("GOV_CONFIG_FILE", str(config))

        code, out, _ = run(capsys, "consent", "verify-receipt", str(receipt_file))

        assert (code, out) == (1, "INVALID: key_mismatch\n")

    def test_public_key_verifies_the_deployments_receipts(
        self,
        capsys: pytest.CaptureFixture[str],
        tmp_path: Path,
        config: Path,
        demo_signer: ReceiptSigner,
    ) -> None:
        """`consent public-key` prints a PEM an auditor can verify receipts with."""
        code, pem, _ = run(capsys, "--config", str(config), "consent", "public-key")
        pem_file = tmp_path / "auditor.pem"
        pem_file.write_text(pem, encoding="utf-8")
        path = write_json(tmp_path / "receipt.json", demo_signer.sign(RECEIPT))

        verified, out, _ = verify(
            capsys,
            str(path),
            str(pem_file),
        )

        assert code == 0
        assert pem.startswith("-----BEGIN PUBLIC KEY-----\n")
        assert "PRIVATE" not in pem
        assert (verified, out) == (0, valid(demo_signer))

    def test_receipts_signed_before_a_key_rotation_still_verify(
        self,
        capsys: pytest.CaptureFixture[str],
        tmp_path: Path,
        config: Path,
        demo_dir: Path,
        demo_signer: ReceiptSigner,
    ) -> None:
        """After `keys rotate receipt_signing` the old receipt verifies with the key
        file and with `public-key --all`; plain `public-key` is the new key only."""
        before = write_json(tmp_path / "before.json", demo_signer.sign(RECEIPT))
        rotated = run(
            capsys, "--config", str(config), "keys", "rotate", "receipt_signing"
        )
        after = ReceiptSigner.from_keys(LocalKeyProvider(demo_dir / "keys.json"))
        _, current, _ = run(capsys, "--config", str(config), "consent", "public-key")
        _, ring, _ = run(
            capsys, "--config", str(config), "consent", "public-key", "--all"
        )
        (tmp_path / "ring.pem").write_text(ring, encoding="utf-8")

        with_file = run(
            capsys, "--config", str(config), "consent", "verify-receipt", str(before)
        )
        with_ring = verify(
            capsys,
            str(before),
            str(tmp_path / "ring.pem"),
        )

        assert rotated[0] == 0
        assert after.key_id != demo_signer.key_id
        assert current == after.public_pem()
        assert ring == after.public_pem() + demo_signer.public_pem()
        assert with_file[:2] == with_ring[:2] == (0, valid(demo_signer))

    def test_missing_key_file_is_not_created(
        self, capsys: pytest.CaptureFixture[str], config: Path, demo_dir: Path
    ) -> None:
        """Without a key file the command exits 2 and creates no keys."""
        (demo_dir / "keys.json").unlink()

        code, out, err = run(capsys, "--config", str(config), "consent", "public-key")

        assert (code, out) == (2, "")
        assert "keys.json" in err
        assert not (demo_dir / "keys.json").exists()

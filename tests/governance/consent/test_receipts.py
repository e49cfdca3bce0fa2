"""Signed consent receipts: they verify offline, and every kind of tampering is named."""

import base64
import copy
import json
import stat
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from adapters.keys.local import LocalKeyProvider
from governance.consent.receipts import (
    RECEIPT_FIELDS,
    RECEIPT_FORMAT,
    ReceiptCheck,
    ReceiptSigner,
    verify_receipt,
)

# A key file as written before `receipt_signing` existed.
OLD_KEYS = {
    "pseudonymise": {"v1": base64.b64encode(b"p" * 32).decode()},
    "subject_ref": {"v1": base64.b64encode(b"s" * 32).decode()},
    "cursor": {"v2": base64.b64encode(b"c" * 32).decode()},
}
SEED = bytes(range(32))
OTHER_SEED = bytes(range(1, 33))
SIGNER = ReceiptSigner(SEED, "v1")
OTHER_SIGNER = ReceiptSigner(OTHER_SEED, "v1")
PEM = SIGNER.public_pem()


def make_receipt(**overrides: Any) -> dict[str, Any]:
    """A synthetic receipt of a separate-consent grant, with `overrides` applied."""
    receipt: dict[str, Any] = {
        "receipt_id": "3f2b8c1e-6a4d-4e0f-9b7a-2c5d8e1f0a93",
        "subject_id": "C000123",
        "purpose": "marketing_push",
        "scope": ["contact", "preferences"],
        "kind": "separate",
        "grantor": "self",
        "notice_version": "2026-01",
        "method": "checkbox",
        "channel": "app",
        "evidence_hash": "a" * 64,
        "granted_at": "2026-03-01T08:00:00Z",
        "expires_at": None,
        "declared_frequency": "4/month",
        "issuer": "Demo Brand",
    }
    receipt.update(overrides)
    return receipt


DOC = SIGNER.sign(make_receipt())

_text = st.text(max_size=12)
_json_scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | _text
_json = st.recursive(
    _json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3)
    ),
    max_leaves=6,
)
_anything = st.recursive(
    _json_scalars | st.floats() | st.binary(max_size=8) | st.just(object()),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.tuples(inner, inner)
        | st.dictionaries(_text | st.integers(), inner, max_size=4)
    ),
    max_leaves=10,
)


def _check(doc: Any) -> ReceiptCheck:
    return verify_receipt(doc, PEM)


class TestSign:
    def test_signed_receipt_verifies(self) -> None:
        """A freshly signed receipt verifies against the signer's public key."""
        check = _check(SIGNER.sign(make_receipt()))

        assert check == ReceiptCheck(ok=True, reason=None)

    def test_document_shape(self) -> None:
        """The document holds format, receipt, key_id and an unpadded base64url signature."""
        assert set(DOC) == {"format", "receipt", "key_id", "signature"}
        assert DOC["format"] == RECEIPT_FORMAT
        assert DOC["receipt"] == make_receipt()
        assert DOC["key_id"] == SIGNER.key_id
        assert SIGNER.key_id.startswith("ed25519:")
        assert len(SIGNER.key_id) == len("ed25519:") + 16
        assert "=" not in DOC["signature"]
        assert len(DOC["signature"]) == 86  # 64 bytes

    def test_survives_a_json_round_trip(self) -> None:
        """A receipt written to JSON and read back still verifies."""
        doc = SIGNER.sign(make_receipt(scope=("contact",)))

        assert _check(json.loads(json.dumps(doc))).ok

    @pytest.mark.parametrize("field", sorted(RECEIPT_FIELDS))
    def test_rejects_missing_field(self, field: str) -> None:
        """A receipt without one of its fields is refused."""
        receipt = make_receipt()
        del receipt[field]

        with pytest.raises(ValueError, match=field):
            SIGNER.sign(receipt)

    def test_rejects_extra_field(self) -> None:
        """A receipt with a field beyond the format's is refused."""
        with pytest.raises(ValueError, match="phone"):
            SIGNER.sign(make_receipt(phone="13800000000"))

    def test_rejects_values_json_cannot_hold(self) -> None:
        """A value JSON cannot represent is refused with ValueError."""
        with pytest.raises(ValueError, match="JSON"):
            SIGNER.sign(make_receipt(scope={"contact"}))

    def test_repr_hides_the_key(self) -> None:
        """The signer's repr names the key id and version, never the seed."""
        text = repr(SIGNER)

        assert SIGNER.key_id in text
        assert SEED.hex() not in text
        assert "private" not in text.lower()

    def test_from_keys_uses_receipt_signing(self, tmp_path: Path) -> None:
        """A signer built from a key provider uses its receipt_signing key."""
        keys = LocalKeyProvider(tmp_path / "keys.json")
        version, seed = keys.key("receipt_signing")

        signer = ReceiptSigner.from_keys(keys)

        assert signer.version == version
        assert signer.public_pem() == ReceiptSigner(seed, version).public_pem()


class TestVerify:
    @given(field=st.sampled_from(sorted(RECEIPT_FIELDS)), value=_json)
    def test_any_changed_receipt_value_is_bad_signature(
        self, field: str, value: Any
    ) -> None:
        """Changing any receipt value to anything else breaks the signature."""
        assume(json.dumps(value) != json.dumps(DOC["receipt"][field]))
        doc = copy.deepcopy(DOC)
        doc["receipt"][field] = value

        assert _check(doc) == ReceiptCheck(ok=False, reason="bad_signature")

    @given(index=st.integers(0, 63), bit=st.integers(0, 7))
    def test_any_flipped_signature_bit_is_bad_signature(
        self, index: int, bit: int
    ) -> None:
        """Flipping any bit of the signature is reported as a bad signature."""
        raw = bytearray(base64.urlsafe_b64decode(DOC["signature"] + "=="))
        raw[index] ^= 1 << bit
        doc = {**DOC, "signature": base64.urlsafe_b64encode(raw).decode().rstrip("=")}

        assert _check(doc) == ReceiptCheck(ok=False, reason="bad_signature")

    @given(signature=st.text(max_size=100))
    def test_any_other_signature_text_fails(self, signature: str) -> None:
        """Any other signature string is either not base64url or a bad signature."""
        assume(signature != DOC["signature"])

        assert _check({**DOC, "signature": signature}).reason in {
            "malformed",
            "bad_signature",
        }

    @given(key_id=st.text(max_size=30))
    def test_any_other_key_id_is_key_mismatch(self, key_id: str) -> None:
        """A key_id other than the public key's is a key mismatch."""
        assume(key_id != DOC["key_id"])

        assert _check({**DOC, "key_id": key_id}) == ReceiptCheck(
            ok=False, reason="key_mismatch"
        )

    @given(fmt=st.text(max_size=30))
    def test_any_other_format_is_unknown(self, fmt: str) -> None:
        """A format other than RECEIPT_FORMAT is unknown."""
        assume(fmt != RECEIPT_FORMAT)

        assert _check({**DOC, "format": fmt}) == ReceiptCheck(
            ok=False, reason="unknown_format"
        )

    def test_other_public_key_is_key_mismatch(self) -> None:
        """A receipt checked against another signer's public key is a key mismatch."""
        check = verify_receipt(DOC, OTHER_SIGNER.public_pem())

        assert check == ReceiptCheck(ok=False, reason="key_mismatch")

    def test_key_id_rewritten_to_ours_is_bad_signature(self) -> None:
        """A receipt signed by another key, relabelled with our key id, is caught."""
        forged = {**OTHER_SIGNER.sign(make_receipt()), "key_id": SIGNER.key_id}

        assert _check(forged) == ReceiptCheck(ok=False, reason="bad_signature")

    @pytest.mark.parametrize(
        "doc",
        [
            None,
            [],
            {},
            "",
            "receipt",
            42,
            {k: v for k, v in DOC.items() if k != "signature"},
            {k: v for k, v in DOC.items() if k != "receipt"},
            {**DOC, "note": "unsigned extra field"},
            {**DOC, "signature": "not base64!"},
            {**DOC, "signature": DOC["signature"] + "="},
            {**DOC, "signature": None},
            {**DOC, "key_id": 7},
            {**DOC, "format": ["x"]},
            {**DOC, "receipt": "C000123"},
            {**DOC, "receipt": None},
            {**DOC, "receipt": make_receipt(phone="13800000000")},
            {
                **DOC,
                "receipt": {k: v for k, v in DOC["receipt"].items() if k != "kind"},
            },
            {**DOC, "receipt": {**DOC["receipt"], "scope": {"contact"}}},
            {**DOC, "receipt": {**DOC["receipt"], "channel": 2**70}},
        ],
        ids=[
            "none",
            "list",
            "empty-object",
            "empty-string",
            "string",
            "number",
            "no-signature",
            "no-receipt",
            "extra-field",
            "non-base64-signature",
            "padded-signature",
            "null-signature",
            "numeric-key-id",
            "list-format",
            "string-receipt",
            "null-receipt",
            "receipt-extra-field",
            "receipt-missing-field",
            "receipt-set-value",
            "receipt-huge-int",
        ],
    )
    def test_garbage_is_malformed(self, doc: Any) -> None:
        """Inputs that are not a receipt document are malformed, never an exception."""
        assert _check(doc) == ReceiptCheck(ok=False, reason="malformed")

    @pytest.mark.parametrize(
        "pem",
        [
            "",
            "not a key",
            "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        ],
        ids=["empty", "text", "bad-pem"],
    )
    def test_unusable_public_key_is_bad_public_key(self, pem: str) -> None:
        """A public key that is not Ed25519 PEM is reported, not raised."""
        assert verify_receipt(DOC, pem) == ReceiptCheck(
            ok=False, reason="bad_public_key"
        )

    @given(doc=_anything)
    def test_never_raises(self, doc: Any) -> None:
        """Any input whatever gives a failed check, never an exception."""
        assert not _check(doc).ok

    @pytest.mark.parametrize("number", [float("nan"), float("inf"), float("-inf")])
    def test_a_non_finite_number_in_place_of_null_is_malformed(
        self, number: float
    ) -> None:
        """The signed bytes read it as null, yet the document states something
        else (which JSON cannot even hold): it is not what was signed."""
        doc = copy.deepcopy(DOC)
        doc["receipt"]["expires_at"] = number

        assert _check(doc) == ReceiptCheck(ok=False, reason="malformed")

    @given(value=_anything)
    def test_never_raises_on_any_receipt_value(self, value: Any) -> None:
        """Any Python value inside a receipt gives a check, never an exception."""
        doc = copy.deepcopy(DOC)
        doc["receipt"]["scope"] = value

        assert _check(doc).reason in {"malformed", "bad_signature", None}


class TestReceiptKeyFile:
    def test_old_key_file_gains_receipt_signing(self, tmp_path: Path) -> None:
        """A key file without receipt_signing gains it; the other keys are untouched."""
        path = tmp_path / "keys.json"
        path.write_text(json.dumps({"format": 1, "keys": OLD_KEYS}))
        path.chmod(0o640)

        keys = LocalKeyProvider(path)

        stored = json.loads(path.read_text())["keys"]
        assert {k: stored[k] for k in OLD_KEYS} == OLD_KEYS
        assert keys.key("pseudonymise") == ("v1", b"p" * 32)
        assert keys.key("cursor") == ("v2", b"c" * 32)
        version, seed = keys.key("receipt_signing")
        assert version == "v1"
        assert len(seed) == 32
        assert stat.S_IMODE(path.stat().st_mode) == 0o600

    def test_receipt_key_is_stable_across_loads(self, tmp_path: Path) -> None:
        """Loading the key file again gives the same receipt key."""
        path = tmp_path / "keys.json"

        first = ReceiptSigner.from_keys(LocalKeyProvider(path))
        second = ReceiptSigner.from_keys(LocalKeyProvider(path))

        assert first.key_id == second.key_id

"""Checkpoint documents: signed, checked with the public key only, every failure named."""

import copy
import json

import pytest
from sealed_trails import PUBLIC_KEY, SIGNER, STRANGER

from adapters.keys.local import LocalKeyProvider
from audit.checkpoint import (
    Checkpoint,
    Head,
    check_checkpoint,
    checkpoint_digest,
    key_ring,
    parse_checkpoint,
    public_keys_of,
    sign_checkpoint,
)
from audit.signing import AuditSigner

CHECKPOINT = Checkpoint(
    number=3,
    tree_size=120,
    root_hash="ab" * 32,
    sealed_at="2026-11-30T08:00:00.000000Z",
    previous="cd" * 32,
    heads=(Head("c" * 32, 17, "ef" * 32),),
)


@pytest.fixture
def doc() -> dict:
    """A checkpoint document signed by the test signer."""
    return sign_checkpoint(SIGNER, CHECKPOINT)


def check(doc: dict, *pems: str) -> str | None:
    """check_checkpoint against the given PEMs (the test signer's by default)."""
    return check_checkpoint(doc, key_ring(list(pems) or [PUBLIC_KEY]))


def test_a_signed_checkpoint_checks_out_and_reads_back(doc):
    """The document verifies with the public key and parses to the same checkpoint."""
    assert check(doc) is None
    assert parse_checkpoint(json.loads(json.dumps(doc))) == CHECKPOINT


def test_a_digest_covers_every_signed_field(doc):
    """Changing any part of the checkpoint changes the digest the next one names."""
    changed = copy.deepcopy(doc)
    changed["checkpoint"]["heads"][0]["seq"] = 18

    assert checkpoint_digest(doc) != checkpoint_digest(changed)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("checkpoint", "tree_size"), 121),
        (("checkpoint", "root_hash"), "00" * 32),
        (("checkpoint", "sealed_at"), "2026-11-30T08:00:01.000000Z"),
        (("checkpoint", "previous"), None),
        (("checkpoint", "heads"), []),
        (("key_id",), "ed25519:0000000000000000"),
    ],
    ids=["tree_size", "root", "sealed_at", "previous", "heads", "key_id"],
)
def test_when_a_field_is_changed_then_the_check_fails(doc, path, value):
    """Any change after signing is a bad signature (or a key that is not the signer's)."""
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value

    assert check(doc) in {"bad_signature", "key_mismatch"}


@pytest.mark.parametrize(
    "mangle",
    [
        lambda d: d.pop("signature"),
        lambda d: d.update(extra=1),
        lambda d: d["checkpoint"].update(tree_size="120"),
        lambda d: d["checkpoint"].update(number=True),
        lambda d: d["checkpoint"].update(number=0),
        lambda d: d["checkpoint"].update(root_hash="AB" * 32),
        lambda d: d["checkpoint"]["heads"][0].pop("hash"),
        lambda d: d.update(checkpoint=[]),
    ],
    ids=[
        "no-signature",
        "extra-field",
        "size-as-text",
        "bool-number",
        "number-zero",
        "upper-hex",
        "head-without-hash",
        "body-not-object",
    ],
)
def test_when_the_document_is_not_shaped_right_then_malformed(doc, mangle):
    """A missing, extra or mistyped field is `malformed`, before any signature work."""
    mangle(doc)

    assert check(doc) == "malformed"


def test_when_the_format_is_unknown_then_unknown_format(doc):
    """A document of another format is not taken for a checkpoint."""
    doc["format"] = "govproxy-audit-checkpoint/9"

    assert check(doc) == "unknown_format"


def test_when_the_key_is_another_then_key_mismatch(doc):
    """Checked with someone else's public key, the failure says so."""
    assert check(doc, STRANGER.public_pem()) == "key_mismatch"


def test_when_one_of_several_keys_signed_then_it_checks_out(doc):
    """With old and new keys given (a rotation), the signer's key is found."""
    assert check(doc, STRANGER.public_pem(), PUBLIC_KEY) is None


def test_when_a_given_key_is_not_a_public_key_then_bad_public_key(doc):
    """A PEM that is not an Ed25519 public key is named as the problem."""
    assert key_ring(["not a key"]) is None
    assert check_checkpoint(doc, None) == "bad_public_key"


def test_the_key_files_versions_are_listed_current_first(tmp_path):
    """Every version of the audit key is offered to verifiers, the newest first."""
    path = tmp_path / "keys.json"
    LocalKeyProvider(path)
    stored = json.loads(path.read_text())
    stored["keys"]["audit_signing"]["v2"] = stored["keys"]["receipt_signing"]["v1"]
    path.write_text(json.dumps(stored))
    provider = LocalKeyProvider(path)

    keys = public_keys_of(provider)

    assert len({k for k, _ in keys}) == len(keys) == 2
    assert keys[0] == (
        AuditSigner.from_keys(provider).key_id,
        AuditSigner.from_keys(provider).public_pem(),
    )

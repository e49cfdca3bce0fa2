"""`govproxy audit ...`: verify the trail, seal it, prove events and check proofs offline.

```
govproxy audit verify [--public-key PEMFILE] [--kept FILE]
                                                 exit 0 intact, 1 naming the first fault
govproxy audit checkpoint                        seal committed events into signed checkpoints
govproxy audit prove --event-id ID > proof.json  inclusion proof of one event
govproxy audit prove --from SIZE1 [--to SIZE2]   consistency proof between two checkpoints
govproxy audit verify-proof FILE [--public-key PEMFILE]   offline: exit 0 valid, 1 INVALID
govproxy audit public-key > pub.pem              the audit signing key(s) for auditors
```

Without `--public-key`, the public keys are those of the configured key file
(`--config` or GOV_CONFIG_FILE), which must already exist. `verify-proof` with
`--public-key` needs no settings and no store at all. A PEM file may hold
several keys (after a key rotation, `public-key` prints every version).

`--kept FILE` holds signed checkpoint documents saved outside the store: the
answer of `GET /v1/audit/checkpoints` as it came, a JSON array of documents, or
one per line (the `checkpoint` of a proof is one). The store must still extend
each, which is what shows a store rolled back, or whose newest checkpoints were
removed together with their leaves, since such a store verifies on its own.
"""

import argparse
import re
import sys
from pathlib import Path
from typing import Any

import orjson

from adapters.keys.local import LocalKeyProvider
from audit.checkpoint import (
    Checkpoint,
    check_checkpoint,
    key_ring,
    parse_checkpoint,
    public_keys_of,
)
from audit.checkpoint_task import Sealer
from audit.models import MAX_STORED_INT
from audit.proof import (
    TreeInconsistent,
    consistency_proof,
    inclusion_proof,
    kept_checkpoint_fault,
)
from audit.proof_check import check_proof
from audit.seal import SealRefused, SealResult
from audit.verify import VerifyReport, verify_trail
from governance.cli.admin import settings_of, with_store
from governance.errors import ConfigurationError
from governance.settings import load_settings
from governance.signing import load_public_key

_PEM = re.compile(r"-----BEGIN PUBLIC KEY-----.+?-----END PUBLIC KEY-----\s*", re.S)


def add_parsers(asub: Any) -> None:
    """Register `verify`, `checkpoint`, `prove`, `verify-proof`, `public-key` under `audit`."""
    verify = asub.add_parser("verify", help="verify every chain and checkpoint")
    _public_key_option(verify)
    verify.add_argument(
        "--kept",
        type=Path,
        metavar="FILE",
        help="signed checkpoints saved outside the store, which it must extend",
    )
    verify.set_defaults(run=audit_verify)
    asub.add_parser(
        "checkpoint", help="seal committed events into a signed checkpoint now"
    ).set_defaults(run=audit_checkpoint)
    prove = asub.add_parser("prove", help="print an inclusion or consistency proof")
    which = prove.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--event-id", type=event_id, help="prove this event is in the latest checkpoint"
    )
    which.add_argument(
        "--from",
        dest="first",
        type=tree_size,
        metavar="SIZE1",
        help="earlier tree size",
    )
    prove.add_argument(
        "--to", dest="second", type=tree_size, metavar="SIZE2", help="later tree size"
    )
    prove.set_defaults(run=audit_prove)
    check = asub.add_parser("verify-proof", help="check a proof document offline")
    check.add_argument("file", metavar="FILE", help="proof JSON file, or - for stdin")
    _public_key_option(check)
    check.set_defaults(run=audit_verify_proof)
    asub.add_parser(
        "public-key", help="print the audit signing public key(s) for auditors"
    ).set_defaults(run=audit_public_key)


def audit_verify(args: argparse.Namespace) -> int:
    """Verify the trail; exit 1 and name the first fault if it was tampered with.

    With `--kept FILE` (checkpoint documents an auditor saved, one per line or
    one JSON array), the store must also still extend each of them.
    """
    keys = _public_keys(args)
    kept = _kept(args.kept, keys) if args.kept else []

    async def work(store: Any) -> tuple[VerifyReport, str | None]:
        report = await verify_trail(store, public_keys=keys)
        for checkpoint in kept if report.ok else []:
            fault = await kept_checkpoint_fault(store, checkpoint)
            if fault:
                return report, fault
        return report, None

    report, fault = with_store(settings_of(args), work)
    if fault:
        print(f"audit trail NOT intact: {fault}")
        return 1
    print(
        _describe(report) + (f"; extends {len(kept)} kept checkpoints" if kept else "")
    )
    return 0 if report.ok else 1


def _kept(path: Path, keys: list[str]) -> list[Checkpoint]:
    """The checkpoints in `path`, each signed by one of `keys`.

    Raises:
        ConfigurationError: the file is unreadable, holds no checkpoint, or one
            that is not signed by the given keys.
    """
    try:
        raw = path.read_bytes()
        lines = [orjson.loads(line) for line in raw.splitlines() if line.strip()]
    except OSError as exc:
        raise ConfigurationError(
            f"{path}: cannot read kept checkpoints ({exc})"
        ) from None
    except orjson.JSONDecodeError:
        lines = [_json(raw, path)]  # one document over several lines
    docs = lines[0] if len(lines) == 1 and isinstance(lines[0], list) else lines
    if len(docs) == 1 and isinstance(docs[0], dict) and "checkpoints" in docs[0]:
        docs = docs[0]["checkpoints"]  # the API's answer
    ring = key_ring(keys)
    found = []
    for doc in docs if isinstance(docs, list) else []:
        reason = check_checkpoint(doc, ring)
        if reason is not None:
            raise ConfigurationError(f"{path}: a kept checkpoint fails: {reason}")
        found.append(parse_checkpoint(doc))
    if not found:
        raise ConfigurationError(f"{path}: no checkpoint document in it")
    return [c for c in found if c is not None]


def _json(raw: bytes, path: Path) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ConfigurationError(f"{path}: not JSON") from None


def audit_checkpoint(args: argparse.Namespace) -> int:
    """Seal every committed event not yet in a checkpoint; exit 1 if the stored
    tree, or an event a chain would seal next, is refused (nothing is signed
    over it)."""
    settings = settings_of(args)
    keys = LocalKeyProvider(settings.keys_file)
    try:
        results = with_store(
            settings, lambda store: Sealer(store, keys, interval=0).seal_now()
        )
    except SealRefused as exc:
        print(
            f"govproxy: not sealed: {exc}; run `govproxy audit verify`", file=sys.stderr
        )
        return 1
    made = [r for r in results if r.document is not None]
    for result in made or results:
        print(_sealed(result))
    held = results[-1].held  # the last round saw what is still held back
    for fault in held:
        print(
            f"govproxy: not sealed: chain {fault.chain_id} from seq {fault.seq}"
            + (f" (event {fault.event_id})" if fault.event_id else "")
            + f": {fault.problem}; run `govproxy audit verify`",
            file=sys.stderr,
        )
    return 1 if held else 0


def tree_size(text: str) -> int:
    """A tree size as the API takes it: 1 to `MAX_STORED_INT` (what the store holds)."""
    try:
        size = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("a tree size is a whole number") from None
    if not 1 <= size <= MAX_STORED_INT:
        raise argparse.ArgumentTypeError(
            f"a tree size is between 1 and {MAX_STORED_INT}"
        )
    return size


def event_id(text: str) -> str:
    """An event id as the API takes it: 1 to 36 characters, no control character."""
    if not 1 <= len(text) <= 36 or any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise argparse.ArgumentTypeError(
            "an event id is 1 to 36 characters, none of them a control character"
        )
    return text


def audit_prove(args: argparse.Namespace) -> int:
    """Print the requested proof as JSON."""
    if args.second is not None and args.first is None:
        raise ConfigurationError("--to goes with --from")

    async def work(store: Any) -> dict[str, Any]:
        if args.event_id is not None:
            return await inclusion_proof(store, args.event_id)
        return await consistency_proof(store, args.first, args.second)

    try:
        proof = with_store(settings_of(args), work)
    except TreeInconsistent as exc:
        print(f"govproxy: {exc}; run `govproxy audit verify`", file=sys.stderr)
        return 2
    sys.stdout.write(orjson.dumps(proof, option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0


def audit_verify_proof(args: argparse.Namespace) -> int:
    """Check a proof document with the public key only; exit 0 if valid, else 1."""
    keys = _public_keys(args)
    try:
        raw = (
            sys.stdin.buffer.read()
            if args.file == "-"
            else Path(args.file).read_bytes()
        )
        doc = orjson.loads(raw)
    except (OSError, orjson.JSONDecodeError):
        doc = None
    check = check_proof(doc, keys)
    print(
        f"valid: {check.summary}"
        if check.ok
        else f"INVALID: {check.reason}: {check.summary}"
    )
    return 0 if check.ok else 1


def audit_public_key(args: argparse.Namespace) -> int:
    """Print every version's public key PEM, the current one first."""
    for _, pem in _configured(args):
        print(pem, end="")
    return 0


def _public_key_option(parser: Any) -> None:
    parser.add_argument(
        "--public-key",
        type=Path,
        metavar="PEMFILE",
        help="audit signing public key(s) (else the configured key file's)",
    )


def _public_keys(args: argparse.Namespace) -> list[str]:
    """The PEMs of `--public-key`, else those of the configured key file."""
    path: Path | None = args.public_key
    if path is None:
        return [pem for _, pem in _configured(args)]
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeError) as exc:
        raise ConfigurationError(f"{path}: cannot read public key: {exc}") from None
    pems = [m.group(0) for m in _PEM.finditer(text)]
    if not pems or any(load_public_key(p) is None for p in pems):
        raise ConfigurationError(f"{path}: not an Ed25519 public key (PEM)")
    return pems


def _configured(args: argparse.Namespace) -> list[tuple[str, str]]:
    """(key id, PEM) of the configured key file's audit signing key versions."""
    config: Path | None = args.config
    keys_file = load_settings(config).keys_file
    if not keys_file.is_file():
        raise ConfigurationError(f"{keys_file}: no key file (or pass --public-key)")
    return public_keys_of(LocalKeyProvider(keys_file, read_only=True))


def _describe(report: VerifyReport) -> str:
    if report.first_bad is not None and report.first_bad.problem == "trail_emptied":
        return (
            "audit trail NOT intact: trail_emptied: the consent ledger holds changes"
            " but the trail none of the events they were recorded with"
        )
    if report.first_bad is not None:
        bad = report.first_bad
        return (
            f"audit trail NOT intact after checking {report.events} events: "
            f"{bad.problem} at chain {bad.chain_id} seq {bad.seq}"
            + (f" (event {bad.event_id})" if bad.event_id else "")
        )
    fault = report.checkpoint_fault
    if fault is not None:
        where = (
            f" (leaves {fault.leaves[0]} to {fault.leaves[1] - 1})"
            if fault.leaves
            else ""
        )
        return (
            f"audit trail NOT intact: {fault.problem} at checkpoint {fault.checkpoint}"
            f"{where}: {fault.detail}"
        )
    if report.purge_fault is not None:
        purge = report.purge_fault
        return (
            f"audit trail NOT intact: {purge.problem} at purge record {purge.purge_id}"
            " (retention tombstones)"
        )
    if report.altered_shape is not None:
        return (
            f"audit trail NOT intact: decision shape {report.altered_shape} was altered"
            " (the policy input or result an event names)"
        )
    line = f"audit trail intact: {report.events} events in {report.chains} chains; "
    latest = report.latest
    if latest is None:
        return line + (
            "no signed checkpoint yet: they are protected by their chains only "
            "(seal them with `govproxy audit checkpoint`)"
        )
    return line + (
        f"{report.sealed} sealed in {report.checkpoints} signed checkpoints "
        f"(latest {latest.number}, sealed {latest.sealed_at}), "
        f"{report.unsealed} not sealed yet"
    )


def _sealed(result: SealResult) -> str:
    latest = result.latest
    if result.document is not None and latest is not None:
        return (
            f"checkpoint {latest.number}: sealed {result.sealed} events; tree size "
            f"{latest.tree_size}, root {latest.root_hash}"
        )
    if latest is None:
        return "nothing to seal: the trail is empty"
    return f"nothing new to seal; latest checkpoint {latest.number} (tree size {latest.tree_size})"

"""Check an export offline, with only the signer's public key: no store, no settings.

`check_export(path, public_key_pems)` takes any of the three forms of
`audit.export`: a directory (`manifest.json` beside the data file), the ZIP
archive of a CSV export, or a JSON-lines export whose last line is the
manifest. Files are read in chunks, never whole. It never raises for what it
finds; each problem has a stable code, in the order checked:

```
missing_manifest  no manifest.json in the directory or archive, or no last line
malformed         the manifest is not a manifest document (or names a file path)
unknown_format    the manifest's format is not one this version knows
bad_public_key    the given PEM is not an Ed25519 public key
key_mismatch      the manifest was signed by none of the keys given
bad_signature     the manifest was changed after it was signed
missing_file      the data file the manifest names is absent
file_changed      the data file's SHA-256 is not the manifest's
count_mismatch    the data file holds another number of events than the manifest says
event_altered     an event does not link to the events of its chain in the file
                  (JSON lines: or does not hold its own hash): the store was
                  altered before the export was signed
seq_gap           a seq of a chain is missing from a complete (unfiltered)
                  export, though the manifest does not name it as outside the
                  range; or the file's chains are not those the manifest states
```

A manifest whose signature fails is not trusted further, so the file checks
run only once the signature holds; then both a change and a wrong count are
reported. A version 1 manifest states no chains: its export is checked as
before, and a left-out event cannot be detected in it.
"""

import csv
import hashlib
import io
import zipfile
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import AbstractContextManager, closing
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from audit.chain import holds_its_hash
from audit.export_format import COLUMNS, JSON_COLUMNS
from audit.export_manifest import MANIFEST_FILE, ChainSeqs, manifest_problem
from audit.record import canonical_json

_CHUNK = 1 << 20
_TAIL = 1 << 20  # a manifest line is far shorter
Opener = Callable[[], AbstractContextManager[IO[bytes]]]


@dataclass(frozen=True)
class ExportProblem:
    """One thing wrong with an export: a stable code and what it means here."""

    code: str
    message: str


@dataclass(frozen=True)
class ExportCheck:
    """The outcome of checking an export; `manifest` only when its signature holds."""

    problems: tuple[ExportProblem, ...]
    manifest: dict[str, Any] | None

    @property
    def ok(self) -> bool:
        """Whether nothing is wrong."""
        return not self.problems


@dataclass(frozen=True)
class _Export:
    """Where an export's manifest and data file are, however it is packaged."""

    manifest: bytes | None
    open_data: Callable[[str], Opener | None]
    data_limit: int | None = None  # JSON lines with a trailer: the data ends here


def check_export(path: Path, public_key_pems: Sequence[str]) -> ExportCheck:
    """Check the export at `path` (directory, ZIP archive or JSON-lines file).

    Args:
        path: the export.
        public_key_pems: the signer's public key, or every version of it.
    """
    if path.is_dir():
        return _check(_directory(path), public_key_pems)
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            return _check(_archive(archive), public_key_pems)
    return _check(_trailed(path), public_key_pems)


def _check(export: _Export, public_key_pems: Sequence[str]) -> ExportCheck:
    if export.manifest is None:
        return _failed("missing_manifest", "the export has no manifest")
    try:
        doc = orjson.loads(export.manifest)
    except orjson.JSONDecodeError:
        doc = None
    problem = manifest_problem(doc, public_key_pems)
    if problem is not None:
        return _failed(problem, _SIGNATURE_MESSAGES.get(problem, problem))
    manifest: dict[str, Any] = doc["manifest"]
    entry = manifest["files"][0]
    name = entry["name"]
    if Path(name).name != name or name in ("", ".", ".."):
        return _failed("malformed", "the manifest names a path, not a file")
    opener = export.open_data(name)
    if opener is None:
        return ExportCheck(
            (ExportProblem("missing_file", f"{name} is missing"),), manifest
        )
    problems = _file_problems(opener, entry, manifest["count"], export.data_limit)
    problems += _event_problems(opener, entry["format"], manifest, export.data_limit)
    return ExportCheck(problems, manifest)


_SIGNATURE_MESSAGES = {
    "malformed": "the manifest is not a signed export manifest",
    "unknown_format": "the manifest's format is unknown to this version",
    "bad_public_key": "a public key given is not an Ed25519 public key (PEM)",
    "key_mismatch": "the manifest was signed by none of the keys given",
    "bad_signature": "the manifest's signature does not hold: it was changed",
}


def _failed(code: str, message: str) -> ExportCheck:
    return ExportCheck((ExportProblem(code, message),), None)


def _file_problems(
    opener: Opener, entry: dict[str, Any], count: int, limit: int | None
) -> tuple[ExportProblem, ...]:
    sha, newlines = hashlib.sha256(), 0
    with opener() as data:
        for chunk in _chunks(data, limit):
            sha.update(chunk)
            newlines += chunk.count(b"\n")
    found: list[ExportProblem] = []
    name = entry["name"]
    if sha.hexdigest() != entry["sha256"]:
        found.append(
            ExportProblem("file_changed", f"{name} changed: its SHA-256 differs")
        )
    events = _csv_records(opener) if entry["format"] == "csv" else newlines
    if events != count:
        found.append(
            ExportProblem(
                "count_mismatch",
                f"{name} holds {events} events, the manifest says {count}",
            )
        )
    return tuple(found)


def _event_problems(
    opener: Opener, fmt: str, manifest: dict[str, Any], limit: int | None
) -> tuple[ExportProblem, ...]:
    """The first event that does not hold its hash (JSON lines) or link to the
    events of its chain, else how the file's chains differ from the manifest's.
    The signer signed what the store held, so an event that fails finds a store
    altered before the export; a seq missing from a complete export, one the
    signer should never have signed."""
    complete = manifest.get("complete") is True
    seqs = ChainSeqs(complete=complete)
    with (
        opener() as data,
        closing(
            _jsonl_events(data, limit) if fmt == "jsonl" else _csv_events(data)
        ) as records,
    ):
        for number, row in records:
            if row is None:
                return (
                    ExportProblem(
                        "event_altered", f"record {number} is not an exported event"
                    ),
                )
            chain, seq = row["chain_id"], row["seq"]
            if (fmt == "jsonl" and not holds_its_hash(row)) or seqs.add(
                chain, seq, row["prev_hash"], row["hash"]
            ):
                return (
                    ExportProblem(
                        "event_altered",
                        f"record {number} (event {seq} of chain {chain}) does not hold"
                        " its hash or does not link to the events of its chain",
                    ),
                )
    stated = manifest.get("chains")
    if stated is None:  # a version 1 manifest
        return ()
    return _chain_problems(seqs.summary(), stated, complete=complete)


def _chain_problems(
    found: list[dict[str, Any]], stated: list[dict[str, Any]], *, complete: bool
) -> tuple[ExportProblem, ...]:
    """Per chain, where the file's seqs differ from the manifest's account."""
    held = {c["chain_id"]: c for c in found}
    said = {c["chain_id"]: c for c in stated}
    problems = []
    for chain in sorted(held.keys() | said.keys()):
        mine, theirs = held.get(chain), said.get(chain)
        if mine is None or theirs is None:
            where = "the manifest does not" if theirs is None else "the file does not"
            problems.append(
                ExportProblem(
                    "seq_gap", f"chain {chain}: {where} hold any of its events"
                )
            )
        elif mine != theirs:
            problems.append(
                ExportProblem("seq_gap", _gap_message(mine, theirs, complete))
            )
    return tuple(problems)


def _gap_message(mine: dict[str, Any], theirs: dict[str, Any], complete: bool) -> str:
    chain = mine["chain_id"]
    if complete and all(mine[k] == theirs[k] for k in ("first", "last")):
        missing = [g for g in mine["skipped"] if g not in theirs["skipped"]]
        if missing:
            spans = ", ".join(str(a) if a == b else f"{a} to {b}" for a, b in missing)
            one = len(missing) == 1 and missing[0][0] == missing[0][1]
            events, are, them = (
                ("event", "is", "it") if one else ("events", "are", "them")
            )
            return (
                f"chain {chain}: {events} {spans} {are} not in this complete export"
                f" and the manifest does not name {them} as outside the range"
            )
    return (
        f"chain {chain}: the file holds events {mine['first']} to {mine['last']}"
        f" ({mine['events']}), the manifest says {theirs['first']} to"
        f" {theirs['last']} ({theirs['events']})"
    )


Record = tuple[int, dict[str, Any] | None]


def _jsonl_events(data: IO[bytes], limit: int | None) -> Generator[Record]:
    """Each line's event, its JSON columns as the canonical text hashed (None:
    not an event)."""
    for number, line in enumerate(_lines(data, limit), 1):
        try:
            event = orjson.loads(line)
            row = {
                c: canonical_json(event[c]) if c in JSON_COLUMNS else event[c]
                for c in COLUMNS
            }
        except (orjson.JSONDecodeError, KeyError, TypeError):
            yield number, None
            continue
        yield number, row if _linkable(row) else None


def _csv_events(data: IO[bytes]) -> Generator[Record]:
    """Each CSV record's chain, seq and hashes (no cell of them is ever prefixed:
    none starts with a formula character)."""
    text = io.TextIOWrapper(data, encoding="utf-8-sig", errors="replace", newline="")
    try:
        for number, record in enumerate(csv.DictReader(text), 1):
            try:
                row = {**record, "seq": int(record["seq"])}
            except (KeyError, TypeError, ValueError):
                yield number, None
                continue
            yield number, row if _linkable(row) else None
    finally:
        text.detach()  # the caller closes `data`; a wrapper left to the GC would too


def _linkable(row: dict[str, Any]) -> bool:
    return (
        isinstance(row["chain_id"], str)
        and type(row["seq"]) is int
        and isinstance(row["prev_hash"], str)
        and isinstance(row["hash"], str)
    )


def _lines(data: IO[bytes], limit: int | None) -> Iterator[bytes]:
    """The lines of `data`, up to `limit` bytes."""
    left = limit
    for line in data:
        if left is not None:
            if left <= 0:
                return
            line, left = line[:left], left - len(line)
        yield line


def _chunks(data: IO[bytes], limit: int | None) -> Iterator[bytes]:
    left = limit
    while left is None or left > 0:
        chunk = data.read(_CHUNK if left is None else min(_CHUNK, left))
        if not chunk:
            return
        if left is not None:
            left -= len(chunk)
        yield chunk


def _csv_records(opener: Opener) -> int:
    """Records after the header row (a record may span lines inside quotes)."""
    with opener() as data:
        text = io.TextIOWrapper(
            data, encoding="utf-8-sig", errors="replace", newline=""
        )
        return max(sum(1 for _ in csv.reader(text)) - 1, 0)


def _directory(path: Path) -> _Export:
    manifest = path / MANIFEST_FILE

    def open_data(name: str) -> Opener | None:
        data = path / name
        return (lambda: data.open("rb")) if data.is_file() else None

    return _Export(manifest.read_bytes() if manifest.is_file() else None, open_data)


def _archive(archive: zipfile.ZipFile) -> _Export:
    names = set(archive.namelist())

    def open_data(name: str) -> Opener | None:
        return (lambda: archive.open(name)) if name in names else None

    manifest = archive.read(MANIFEST_FILE) if MANIFEST_FILE in names else None
    return _Export(manifest, open_data)


def _trailed(path: Path) -> _Export:
    """JSON lines whose last line is the manifest: the data is everything before it."""
    size = path.stat().st_size
    with path.open("rb") as f:
        f.seek(max(size - _TAIL, 0))
        tail = f.read()
    body = tail[:-1] if tail.endswith(b"\n") else tail
    cut = body.rfind(b"\n") + 1
    if not body or (cut == 0 and size > len(tail)):
        return _Export(None, lambda _name: None)
    start = size - len(tail) + cut

    def open_data(_name: str) -> Opener:
        return lambda: path.open("rb")

    return _Export(body[cut:], open_data, data_limit=start)

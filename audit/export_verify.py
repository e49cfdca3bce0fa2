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
event_altered     (JSON lines) an event does not hold its own hash, or does not
                  follow the line before it of its chain: the store was altered
                  before the export was signed
```

A manifest whose signature fails is not trusted further, so the file checks
run only once the signature holds; then both a change and a wrong count are
reported.
"""

import csv
import hashlib
import io
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from audit.chain import holds_its_hash
from audit.export_format import COLUMNS, JSON_COLUMNS
from audit.export_manifest import MANIFEST_FILE, manifest_problem
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
    if entry["format"] == "jsonl":
        altered = _first_altered(opener, export.data_limit)
        problems += (altered,) if altered else ()
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


def _first_altered(opener: Opener, limit: int | None) -> ExportProblem | None:
    """The first event line that does not hold its own hash, or does not follow
    the line before it of its chain: the signer signed what the store held, so
    this finds a store altered before the export."""
    last: dict[Any, tuple[Any, Any]] = {}  # chain -> (seq, hash) of its last line
    with opener() as data:
        for number, line in enumerate(_lines(data, limit), 1):
            try:
                event = orjson.loads(line)
                row = {
                    c: canonical_json(event[c]) if c in JSON_COLUMNS else event[c]
                    for c in COLUMNS
                }
            except (orjson.JSONDecodeError, KeyError, TypeError):
                return ExportProblem(
                    "event_altered", f"line {number} is not an exported event"
                )
            chain, seq = row["chain_id"], row["seq"]
            before_seq, before_hash = last.get(chain, (None, None))
            follows = before_seq is not None and before_seq + 1 == seq
            if not holds_its_hash(row) or (follows and before_hash != row["prev_hash"]):
                return ExportProblem(
                    "event_altered",
                    f"line {number} (event {seq} of chain {chain}) does not hold its"
                    " hash or does not follow the event before it",
                )
            last[chain] = (seq, row["hash"])
    return None


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

"""Export a range of the trail, streamed, with a signed manifest an auditor checks offline.

Events are read in keyset pages, oldest first (`audit.query.scan`), and each
page is encoded (`audit.export_format`), hashed and counted, then written out
before the next is read: memory holds one page, whatever the range. The
manifest (`audit.export_manifest`) is signed once the last byte is known. The
same exported bytes come out three ways:

* **A directory** (`govproxy audit export --out DIR`): `events.jsonl` or
  `events.csv`, and `manifest.json`. Files are written under a temporary name
  and renamed when complete, the manifest last, so a failed export leaves no
  file that looks finished.
* **JSON lines over HTTP** (`GET /v1/audit/export?format=jsonl`): the event
  lines, then one last line holding the signed manifest, whose digest covers
  every byte before that line. `tail -n 1` is the manifest; the rest is
  byte for byte the `events.jsonl` of a directory export.
* **CSV over HTTP** (`format=csv`): a ZIP archive streamed as it is built,
  holding `events.csv` and then `manifest.json`; unzipped, it is a directory
  export. A CSV cannot carry a trailer that Excel would not show as data, and
  a second request for the manifest would have to read the range again (and
  could see a different trail), so both travel in one archive.

`govproxy audit verify-export PATH` checks any of the three
(`audit.export_verify`). The export is recorded in the trail (`audit.export`)
before its first byte leaves, and the manifest names that event's
`decision_id`. A range that has ended exports the same bytes every time.

Nothing is signed that does not match the sealed trail (`audit.export_check`).
"""

import zipfile
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncEngine

from audit.export_check import TrailCheck
from audit.export_format import COLUMNS, ENCODERS, Encoder
from audit.export_manifest import (
    MANIFEST_FILE,
    Digest,
    ExportMeta,
    signed_manifest,
)
from audit.filters import bounded
from audit.query import EVENTS, EventFilter, conditions, scan
from audit.record import utc_now_iso
from governance.signing import Signer

PAGE = 1000
_SELECTED = [EVENTS.c[c] for c in COLUMNS]


def export_meta(f: EventFilter, *, decision_id: str, exporter: str) -> ExportMeta:
    """What the manifest of an export of `f` (a closed range) says, stamped now."""
    since, until = bounded(f)
    return ExportMeta(
        decision_id=decision_id,
        created_at=utc_now_iso(),
        exporter=exporter,
        filters={k: v for k, v in f.given().items() if k not in ("since", "until")},
        since=since,
        until=until,
    )


async def event_bytes(
    engine: AsyncEngine,
    f: EventFilter,
    encoder: Encoder,
    digest: Digest,
    trail: TrailCheck,
) -> AsyncIterator[bytes]:
    """The export file of the events `f` selects, page by page, into `digest` too;
    `trail` checks them and, at the end, what the range should have held.

    Raises:
        TrailAltered: naming the event's chain and seq (an HTTP export is cut
            off there, without its manifest).
    """
    head = encoder.header()
    digest.add(head, 0)
    yield head
    await trail.begin(engine)
    async for rows in scan(engine, conditions(f), _SELECTED, page=PAGE):
        await trail.check_page(engine, rows)
        chunk = encoder.encode(rows)
        digest.add(chunk, len(rows))
        yield chunk
    await trail.finish(engine)


async def write_export(
    engine: AsyncEngine,
    f: EventFilter,
    *,
    fmt: str,
    meta: ExportMeta,
    signer: Signer,
    out: Path,
) -> dict[str, Any]:
    """Write the data file and `manifest.json` into directory `out`; return the manifest.

    Raises:
        FileExistsError: `out` already holds an export's files.
    """
    encoder = ENCODERS[fmt]
    data, manifest = out / encoder.file_name, out / MANIFEST_FILE
    for path in (data, manifest):
        if path.exists():
            raise FileExistsError(path)
    out.mkdir(parents=True, exist_ok=True)
    digest, trail = Digest(), TrailCheck(f)
    partial = [data.with_name(data.name + ".partial"), manifest.with_suffix(".partial")]
    try:
        with partial[0].open("xb") as sink:
            async for chunk in event_bytes(engine, f, encoder, digest, trail):
                sink.write(chunk)
        doc = signed_manifest(
            signer,
            meta,
            name=encoder.file_name,
            fmt=fmt,
            digest=digest,
            coverage=trail.coverage(),
        )
        partial[1].write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
        partial[0].rename(data)
        partial[1].rename(manifest)
    finally:
        for path in partial:
            path.unlink(missing_ok=True)
    return doc


async def jsonl_body(
    engine: AsyncEngine, f: EventFilter, *, meta: ExportMeta, signer: Signer
) -> AsyncIterator[bytes]:
    """JSON lines of the events, then one line holding the signed manifest."""
    encoder, digest, trail = ENCODERS["jsonl"], Digest(), TrailCheck(f)
    async for chunk in event_bytes(engine, f, encoder, digest, trail):
        yield chunk
    doc = signed_manifest(
        signer,
        meta,
        name=encoder.file_name,
        fmt="jsonl",
        digest=digest,
        coverage=trail.coverage(),
    )
    yield orjson.dumps(doc) + b"\n"


async def csv_zip_body(
    engine: AsyncEngine, f: EventFilter, *, meta: ExportMeta, signer: Signer
) -> AsyncIterator[bytes]:
    """A ZIP archive of `events.csv` and its `manifest.json`, streamed as it is built."""
    encoder, digest, sink, trail = ENCODERS["csv"], Digest(), _Sink(), TrailCheck(f)
    stamp = _zip_time(meta.created_at)
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        entry = zipfile.ZipInfo(encoder.file_name, date_time=stamp)
        entry.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(entry, "w", force_zip64=True) as member:
            async for chunk in event_bytes(engine, f, encoder, digest, trail):
                member.write(chunk)
                yield sink.take()
        doc = signed_manifest(
            signer,
            meta,
            name=encoder.file_name,
            fmt="csv",
            digest=digest,
            coverage=trail.coverage(),
        )
        entry = zipfile.ZipInfo(MANIFEST_FILE, date_time=stamp)
        entry.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(entry, orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    yield sink.take()


class _Sink:
    """A write-only, unseekable file that hands over what was written so far."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        """Nothing is buffered."""

    def close(self) -> None:
        """Nothing to release."""

    def tell(self) -> int:
        raise OSError("unseekable")  # zipfile then writes data descriptors

    def take(self) -> bytes:
        """Everything written since the last call."""
        data = b"".join(self._parts)
        self._parts.clear()
        return data


def _zip_time(instant: str) -> tuple[int, int, int, int, int, int]:
    """A trail instant as a ZIP entry's timestamp (two-second resolution)."""
    y, mo, d, h, mi, sec, *_ = datetime.fromisoformat(instant).timetuple()
    return y, mo, d, h, mi, sec

"""How exported events are written: JSON lines for machines, CSV for spreadsheets.

Both carry every stored column of each event, in table order (so `prev_hash`
and `hash` too: `audit.chain.row_hash` recomputes an event's hash from a JSON
line). An encoder turns one page of rows into bytes; the export hashes and
counts exactly those bytes.

* **JSON lines** (`events.jsonl`): one object per event; `fields`,
  `obligations` and `detail` are JSON values, byte for byte the canonical
  text the trail stores and hashes.
* **CSV** (`events.csv`): a header row, then one row per event; the JSON
  columns hold their canonical text. It opens correctly in Excel: UTF-8 with a
  byte-order mark (else Excel reads UTF-8 as the local code page and 高消费
  turns to mojibake) and no cell Excel would run as a formula: a cell starting
  with `=`, `+`, `-`, `@`, tab or carriage return gets a leading `'` (OWASP,
  CSV injection). So the CSV is for people; the JSON lines are the exact record.
"""

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar, Protocol

import orjson
from sqlalchemy import RowMapping

from audit.models import AuditEventRow

COLUMNS = tuple(AuditEventRow.model_fields)
JSON_COLUMNS = frozenset({"fields", "obligations", "detail"})
BOM = "\ufeff".encode()
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class Encoder(Protocol):
    """Writes pages of stored event rows as the bytes of one export file."""

    format: ClassVar[str]
    file_name: ClassVar[str]
    media_type: ClassVar[str]

    def header(self) -> bytes:
        """The bytes the file starts with."""
        ...

    def encode(self, rows: Sequence[RowMapping]) -> bytes:
        """The bytes of `rows`, in order."""
        ...


class JsonLines:
    """One JSON object per line, the JSON columns as the canonical JSON stored."""

    format: ClassVar[str] = "jsonl"
    file_name: ClassVar[str] = "events.jsonl"
    media_type: ClassVar[str] = "application/x-ndjson"

    def header(self) -> bytes:
        """Nothing: JSON lines have no header."""
        return b""

    def encode(self, rows: Sequence[RowMapping]) -> bytes:
        """Each row as one line of JSON."""
        return b"".join(
            orjson.dumps(
                {
                    c: orjson.Fragment(row[c]) if c in JSON_COLUMNS else row[c]
                    for c in COLUMNS
                }
            )
            + b"\n"
            for row in rows
        )


class Csv:
    """RFC 4180 CSV, UTF-8 with a byte-order mark, safe to open in Excel."""

    format: ClassVar[str] = "csv"
    file_name: ClassVar[str] = "events.csv"
    media_type: ClassVar[str] = "text/csv; charset=utf-8"

    def header(self) -> bytes:
        """The byte-order mark and the header row."""
        return BOM + _csv_bytes([COLUMNS])

    def encode(self, rows: Sequence[RowMapping]) -> bytes:
        """Each row as one CSV record."""
        return _csv_bytes([safe_cell(row[c]) for c in COLUMNS] for row in rows)


ENCODERS: dict[str, Encoder] = {e.format: e for e in (JsonLines(), Csv())}


def safe_cell(value: Any) -> str:
    """A value as CSV cell text that a spreadsheet shows and never evaluates."""
    if value is None:
        return ""
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _csv_bytes(rows: Iterable[Sequence[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode()

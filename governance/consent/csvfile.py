"""Read a consent CSV file: size limits, encoding, header and row shape (not content).

`read_csv()` returns every data row with its line number in the file (the header
is line 1; a row whose quoted value spans lines is numbered by its first line).
Faults that leave the rest of the file unreadable (size, encoding, header,
unbalanced quotes, a row over 64 KiB) raise `ImportRefused`; faults of one row
(wrong column count, a NUL character, a line break inside a quoted value:
nothing is trimmed into a valid value) are returned as problems so that every
bad row can be reported at once.
"""

import codecs
import csv
import hashlib
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from governance.errors import InvalidRequest

Encoding = Literal["auto", "utf-8", "gbk"]
COLUMNS = (
    "subject_id",
    "purpose",
    "notice_version",
    "method",
    "channel",
    "granted_at",
    "kind",
    "grantor",
    "scope",
    "expires_at",
    "declared_frequency",
    "evidence_hash",
)
REQUIRED = COLUMNS[:6]
MAX_FILE_BYTES = 200 * 1024 * 1024
MAX_ROW_CHARS = 64 * 1024
# Past this many lines that are not rows of the header's shape, the file is not
# the export it claims to be: stop, rather than hold a report line for each of
# millions (a 40 MB file of one-letter lines took 9.5 GB).
MAX_MALFORMED = 1000
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


class ImportRefused(InvalidRequest):
    """The file as a whole cannot be read as a consent CSV; nothing is imported."""


@dataclass(frozen=True)
class Problem:
    """Why the row starting on `line` cannot be imported."""

    line: int
    reason: str


@dataclass(frozen=True, repr=False)
class CsvFile:
    """The rows of a consent CSV: (line, column -> stripped value), and row faults.

    Every row maps all of `COLUMNS`; a column the file lacks is "" (its default).
    The repr names counts only, never a subject.
    """

    name: str
    sha256: str
    rows: list[tuple[int, dict[str, str]]]
    problems: list[Problem]

    def __repr__(self) -> str:
        return f"CsvFile({self.name!r}, rows={len(self.rows)}, problems={len(self.problems)})"


def read_csv(path: Path, encoding: Encoding = "auto") -> CsvFile:
    """Read and shape-check `path`; raise `ImportRefused` if it cannot be read."""
    name = path.name
    raw = _read_bytes(path)
    text = decode(raw, encoding, name)
    rows, problems = _parse(text, name)
    if not rows and not problems:
        raise ImportRefused(f"{name}: no consent rows after the header")
    return CsvFile(name, hashlib.sha256(raw).hexdigest(), rows, problems)


def _read_bytes(path: Path) -> bytes:
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ImportRefused(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise ImportRefused(f"{path.name}: larger than 200 MB; split it")
    return raw


def decode(raw: bytes, encoding: Encoding, name: str) -> str:
    """The text of `raw`: UTF-8 (BOM optional) unless `encoding` is gbk (GB18030)."""
    if raw.startswith(_UTF16_BOMS):
        raise ImportRefused(f"{name}: the file is UTF-16; save it as UTF-8 CSV")
    bom = raw.startswith(codecs.BOM_UTF8)
    if encoding == "gbk":
        if bom:
            raise ImportRefused(
                f"{name}: the file is UTF-8 (it has a BOM); drop --encoding gbk"
            )
        return _decode(raw, "gb18030", name, "not GBK/GB18030")
    body = raw[len(codecs.BOM_UTF8) :] if bom else raw
    return _decode(body, "utf-8", name, "not UTF-8: re-run with --encoding gbk")


def _decode(raw: bytes, codec: str, name: str, complaint: str) -> str:
    try:
        return raw.decode(codec)
    except UnicodeDecodeError as exc:
        line = len(_LINE_END.findall(raw, 0, exc.start)) + 1
        raise ImportRefused(f"{name}: line {line}: {complaint}") from None


# What ends a line for the parser (`io.StringIO(newline="")`), counted in bytes.
_LINE_END = re.compile(rb"\r\n|\r|\n")


class _Lines:
    """The file's lines for `csv.reader`, counting lines and characters per row."""

    def __init__(self, text: str, name: str) -> None:
        self._lines = iter(io.StringIO(text, newline=""))
        self._name = name
        self.line = 0  # lines handed out so far
        self.row_start = 1
        self.row_chars = 0
        self.row_nul = False

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.line += 1
        self.row_chars += len(line)
        if self.row_chars > MAX_ROW_CHARS:
            hint = " (an unbalanced quote?)" if self.line > self.row_start else ""
            raise ImportRefused(
                f"{self._name}: line {self.row_start}: row longer than 64 KiB{hint}"
            )
        if "\x00" in line:
            self.row_nul = True
        return line

    def next_row(self) -> None:
        """Start counting the next row."""
        self.row_start, self.row_chars, self.row_nul = self.line + 1, 0, False


def _parse(
    text: str, name: str
) -> tuple[list[tuple[int, dict[str, str]]], list[Problem]]:
    lines = _Lines(text, name)
    reader = csv.reader(lines, strict=True)
    header = _header(_next(reader, lines, name), name)
    rows: list[tuple[int, dict[str, str]]] = []
    problems: list[Problem] = []
    width = len(header)
    absent = {c: "" for c in COLUMNS if c not in header}  # every row has every column
    while True:
        lines.next_row()
        record = _next(reader, lines, name)
        if record is None:
            return rows, problems
        line = lines.row_start
        if not record:  # a blank line
            continue
        if lines.row_nul:
            problems.append(Problem(line, "NUL character in the row"))
        elif lines.line > line:  # a quoted value went on over a line break
            problems.append(Problem(line, "a value holds a line break"))
        elif len(record) != width:
            problems.append(
                Problem(line, f"expected {width} columns, found {len(record)}")
            )
        else:
            values = dict(zip(header, map(str.strip, record), strict=True))
            rows.append((line, values | absent if absent else values))
            continue
        if len(problems) > MAX_MALFORMED:
            first = problems[0]
            raise ImportRefused(
                f"{name}: more than {MAX_MALFORMED} malformed lines, the first"
                f" line {first.line}: {first.reason}; is this the export you meant?"
            )


def _next(reader: Iterator[list[str]], lines: _Lines, name: str) -> list[str] | None:
    try:
        return next(reader)
    except StopIteration:
        return None
    except csv.Error as exc:
        reason = str(exc)
        if "unexpected end of data" in reason or "EOF" in reason:
            reason = "unbalanced quotes: a quoted value opened here never closes"
        raise ImportRefused(
            f"{name}: line {lines.row_start}: malformed CSV: {reason}"
        ) from None


def _header(record: list[str] | None, name: str) -> tuple[str, ...]:
    if not record:
        raise ImportRefused(f"{name}: line 1: header expected: {','.join(COLUMNS)}")
    header = tuple(c.strip() for c in record)
    unknown = [i for i, c in enumerate(header, 1) if c not in COLUMNS]
    if unknown:  # named by position: a file without a header has data here
        raise ImportRefused(
            f"{name}: line 1: column {unknown[0]} of the header is not a known"
            f" column; the columns are {','.join(COLUMNS)}"
        )
    if len(set(header)) != len(header):
        twice = next(c for c in header if header.count(c) > 1)
        raise ImportRefused(f"{name}: line 1: column {twice!r} appears twice")
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise ImportRefused(
            f"{name}: line 1: missing required column(s) {','.join(missing)}"
        )
    return header

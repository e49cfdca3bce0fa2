"""`govproxy pii scan|mask [FILE ...]`: find or mask personal data in text, line by line.

```
govproxy pii scan [FILE ...]   per input line, one JSON array of {"type","start","end","score"}
govproxy pii mask [FILE ...]   per input line, the line with every personal value masked
```

Reads UTF-8 from each FILE in turn, or from standard input when none is given
(or for ``-``); every line is one document and gives exactly one output line.
Offsets count Unicode code points of the line, without its line ending. Bytes
that are not UTF-8 are read as U+FFFD, the rest of the line is still scanned
and masked, and a warning names the file and line (exit 1). Exit 0 when every
line was valid, 2 when a file cannot be read (nothing more is read).
"""

import argparse
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from governance.pii import redact, scan


def add_parser(sub: Any) -> None:
    """Register the `pii` group and its `scan` and `mask` commands."""
    pii = sub.add_parser("pii", help="find or mask personal data in free text")
    psub = pii.add_subparsers(dest="pii_command", required=True)
    for name, run, summary in (
        ("scan", run_scan, "print the entities of each line as a JSON array"),
        ("mask", run_mask, "print each line with its personal data masked"),
    ):
        command = psub.add_parser(name, help=summary, description=summary)
        command.add_argument(
            "files", nargs="*", metavar="FILE", help="UTF-8 text files (else stdin)"
        )
        command.set_defaults(run=run)


def run_scan(args: argparse.Namespace) -> int:
    """One JSON array of entities per input line."""
    return _each_line(
        args.files, lambda line: orjson.dumps([e.as_dict() for e in scan(line)])
    )


def run_mask(args: argparse.Namespace) -> int:
    """Each input line, masked."""
    return _each_line(args.files, lambda line: redact(line).text.encode("utf-8"))


def _each_line(files: list[str], render: Callable[[str], bytes]) -> int:
    out: BinaryIO = sys.stdout.buffer
    status = 0
    for name, lines in _sources(files or ["-"]):
        try:
            for number, raw in enumerate(lines, start=1):
                line, valid = _decode(raw)
                if not valid:
                    print(
                        f"govproxy: {name}:{number}: not valid UTF-8; "
                        "invalid bytes were read as U+FFFD",
                        file=sys.stderr,
                    )
                    status = 1
                out.write(render(line) + b"\n")
        except OSError as exc:
            print(f"govproxy: cannot read {name}: {exc.strerror}", file=sys.stderr)
            return 2
    out.flush()
    return status


def _sources(files: list[str]) -> Iterator[tuple[str, Iterator[bytes]]]:
    for name in files:
        if name == "-":
            yield "<stdin>", iter(sys.stdin.buffer)
        else:
            yield name, _read(Path(name))


def _read(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        yield from handle


def _decode(raw: bytes) -> tuple[str, bool]:
    """The line without its ending, and whether it was valid UTF-8."""
    raw = raw.removesuffix(b"\n").removesuffix(b"\r")
    try:
        return raw.decode("utf-8"), True
    except UnicodeDecodeError:
        return raw.decode("utf-8", errors="replace"), False

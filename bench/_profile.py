"""Sample a server under load with py-spy and say where its time goes.

`record` runs `py-spy record --format raw --nolineno` on one process for a
while: collapsed stacks, one line per distinct stack, `frame;frame;... count`,
each frame `function (file)`, outermost first. py-spy samples only threads
that are running (not idle in epoll), so shares are of the busy time.
The load bench samples the thread holding the GIL (`--gil`): Python's time,
wall-clock. A thread that holds the GIL while the kernel runs another process
(say, a send() to PostgreSQL that wakes its backend, on a machine with more
runnable processes than cores) is still sampled, so on a busy machine frames
that make round trips weigh more than their CPU time.
`summary` turns them into tables: self time by component (our packages, each
third-party package, the standard library), where the samples are (the
innermost frame: self time), which of our frames they pass through, and which
frames at all (inclusive time, each frame counted once per stack).
"""

import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*)\)$")
_OURS = ("governance", "adapters", "audit")


def py_spy() -> str:
    """The py-spy executable (the venv's, else on PATH); SystemExit if there is none."""
    here = Path(sys.executable).with_name("py-spy")
    found = str(here) if here.exists() else shutil.which("py-spy")
    if found is None:
        raise SystemExit(
            "py-spy is not installed (pip install py-spy; see constraints.txt)"
        )
    return found


def record(
    pid: int, seconds: float, out: Path, *, gil: bool = False, rate: int = 250
) -> subprocess.Popen[bytes]:
    """Start sampling `pid` for `seconds` into `out`; the caller waits for it.

    With `gil`, only the thread holding the GIL is sampled: Python's CPU time,
    without C code that runs with the GIL released (a sqlite3 query, an fsync).
    """
    return subprocess.Popen(  # noqa: S603 - fixed arguments
        [
            py_spy(),
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(max(1, round(seconds))),
            "--rate",
            str(rate),
            "--format",
            "raw",
            "--nolineno",
            *(["--gil"] if gil else []),
            "-o",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def short_frame(frame: str) -> str:
    """`func (file)` with the file shortened to what names it: package-relative."""
    m = _FRAME.match(frame)
    if m is None:
        return frame
    return f"{m['func']} ({short_file(m['file'])})"


def short_file(path: str) -> str:
    """The part of `path` that names it: from the package down, `std:` for the stdlib."""
    if "site-packages/" in path:
        return path.rsplit("site-packages/", 1)[1]
    parts = path.split("/")
    for i, part in enumerate(parts):
        if part in _OURS and i + 1 < len(parts):
            return "/".join(parts[i:])
    m = re.search(r"/python3\.\d+/(.*)$", path)
    return f"std:{m[1]}" if m else path


def component(frame: str) -> str:
    """Who a frame belongs to: one of our packages, a third-party package, or the stdlib."""
    m = _FRAME.match(frame)
    file = short_file(m["file"]) if m else frame
    if file.startswith("std:"):
        return "stdlib: " + file[4:].split("/")[0].removesuffix(".py")
    top = file.split("/")[0].removesuffix(".py")
    return f"ours: {top}/{file.split('/')[1]}" if top in _OURS else top


def parse(lines: Iterable[str]) -> list[tuple[list[str], int]]:
    """(frames outermost first, samples) of each collapsed-stack line."""
    stacks = []
    for line in lines:
        stack, _, count = line.rstrip("\n").rpartition(" ")
        if stack and count.isdigit():
            stacks.append(([short_frame(f) for f in stack.split(";")], int(count)))
    return stacks


def summary(stacks: list[tuple[list[str], int]], top: int = 20) -> str:
    """Self time, inclusive time and self time by component, as text tables."""
    total = sum(n for _, n in stacks)
    if not total:
        return "no samples"
    leaf: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    ours: Counter[str] = Counter()
    parts: Counter[str] = Counter()
    for frames, n in stacks:
        leaf[frames[-1]] += n
        parts[component(frames[-1])] += n
        for frame in set(frames):
            inclusive[frame] += n
            if component(frame).startswith("ours: "):
                ours[frame] += n

    def table(title: str, counts: Counter[str], rows: int) -> str:
        lines = [f"{title} ({total} samples)"]
        lines += [f"  {n / total:6.1%}  {k}" for k, n in counts.most_common(rows)]
        return "\n".join(lines)

    return "\n\n".join(
        [
            table("self time by component", parts, top),
            table("self time (innermost frame)", leaf, top),
            table("inclusive time of our frames (the pipeline's stages)", ours, top),
            table("inclusive time (frames on the stack)", inclusive, 2 * top),
        ]
    )

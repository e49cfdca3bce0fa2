"""The servers the load bench measures, run as child processes, and their CPU time.

Each server runs in a session of its own, so stopping it (SIGTERM to the
group, SIGKILL after a grace period) also stops the worker processes it
started. CPU time is read from /proc: the user and system time of a process
and every descendant alive at the time of reading (all threads), so the
difference between two readings around a run is what the server spent on it.
"""

import http.client
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from _load_report import Usage
from _wrk import tool

_TICK = os.sysconf("SC_CLK_TCK")
BENCH_DIR = Path(__file__).resolve().parent
_NGINX_CONF = """\
worker_processes 1;
daemon off;
pid {root}/nginx.pid;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    keepalive_requests 100000000;
    upstream asgi {{
        server 127.0.0.1:{upstream};
        keepalive 64;
    }}
    server {{
        listen 127.0.0.1:{port};
        location = /static.json {{
            root {root}/www;
            default_type application/json;
        }}
        location /asgi/ {{
            proxy_pass http://asgi/;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
}}
"""


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name, or None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2 :].split()


def _comm(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return None


def _parents() -> dict[int, int]:
    """Parent pid of every process."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            found[int(entry.name)] = int(fields[1])
    return found


def descendants(root: int) -> list[int]:
    """`root` and every process below it."""
    children: dict[int, list[int]] = {}
    for pid, parent in _parents().items():
        children.setdefault(parent, []).append(pid)
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += children.get(pid, [])
    return out


def cpu_seconds(pids: Sequence[int], *, reaped: bool = False) -> float:
    """User plus system CPU time of `pids` (all threads); with their reaped children's if asked."""
    total = 0
    for pid in pids:
        if (fields := _stat(pid)) is not None:
            total += int(fields[11]) + int(fields[12])
            if reaped:
                total += int(fields[13]) + int(fields[14])
    return total / _TICK


def run_queue_wait(pids: Sequence[int]) -> float:
    """Seconds the threads of `pids` alive now have spent runnable, waiting for a CPU."""
    total = 0
    for pid in pids:
        for task in Path(f"/proc/{pid}/task").glob("*/schedstat"):
            try:
                total += int(task.read_text().split()[1])
            except (OSError, IndexError, ValueError):
                continue
    return total / 1e9


def cpu_stall() -> float | None:
    """Seconds some task on this machine waited for a CPU (PSI `some`), or None without PSI."""
    try:
        line = Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except OSError:
        return None
    return int(line.rsplit("total=", 1)[1]) / 1e6


def tree_cpu(root: int) -> float:
    """CPU seconds of `root` and its descendants alive now."""
    return cpu_seconds(descendants(root))


def postgres_cpu() -> float | None:
    """CPU seconds of the local PostgreSQL server: postmaster, live and exited backends.

    None when no PostgreSQL server runs on this machine. It counts every
    database's work, so it is exact only when the bench is the server's one user.
    """
    parents = _parents()
    postgres = {pid for pid in parents if _comm(pid) == "postgres"}
    roots = [pid for pid in postgres if parents[pid] not in postgres]
    if not roots:
        return None
    below = [pid for pid in postgres if pid not in roots]
    return cpu_seconds(roots, reaped=True) + cpu_seconds(below)


class Meter:
    """What processes, PostgreSQL and the machine spend between `start()` and `usage()`."""

    def __init__(self, pids: Callable[[], list[int]], *, postgres: bool) -> None:
        self._pids, self._postgres = pids, postgres
        self._before = self._read()

    def _read(self) -> tuple[float, float, float | None, float | None, float]:
        pids = self._pids()
        return (
            cpu_seconds(pids),
            run_queue_wait(pids),
            postgres_cpu() if self._postgres else None,
            cpu_stall(),
            time.perf_counter(),
        )

    def start(self) -> "Meter":
        """Take the first reading now."""
        self._before = self._read()
        return self

    def usage(self) -> Usage:
        """What was spent since `start()`."""
        cpu, wait, pg, stall, t = self._read()
        cpu0, wait0, pg0, stall0, t0 = self._before
        return Usage(
            server_cpu_s=cpu - cpu0,
            server_wait_s=wait - wait0,
            pg_cpu_s=pg - pg0 if pg is not None and pg0 is not None else None,
            stall=(stall - stall0) / (t - t0)
            if stall is not None and stall0 is not None
            else None,
        )


@dataclass
class Server:
    """A running server: its process (group leader) and where it listens."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def cpu(self) -> float:
        """CPU seconds of the server and its workers so far."""
        return tree_cpu(self.process.pid)

    def waited(self) -> float:
        """Seconds the server's threads have waited for a CPU so far."""
        return run_queue_wait(descendants(self.process.pid))

    def pids(self) -> list[int]:
        """The server process and its workers."""
        return descendants(self.process.pid)


def _wait_http(server: Server, path: str, timeout_s: float) -> None:
    """Return once `path` answers 200; SystemExit naming the log otherwise."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if server.process.poll() is not None:
            break
        try:
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=2)
            conn.request("GET", path)
            if conn.getresponse().status == 200:
                conn.close()
                return
            conn.close()
        except OSError:
            pass
        time.sleep(0.1)
    tail = server.log.read_text(errors="replace")[-3000:] if server.log.exists() else ""
    raise SystemExit(
        f"{server.name} did not become ready on {path}; its log ends:\n{tail}"
    )


@contextmanager
def serving(
    name: str,
    argv: Sequence[str],
    *,
    port: int,
    ready_path: str,
    log: Path,
    env: Mapping[str, str] | None = None,
) -> Iterator[Server]:
    """Run `argv` until the block ends; yield it once `ready_path` answers 200."""
    with log.open("ab") as out:
        process = subprocess.Popen(  # noqa: S603 - our own fixed commands
            list(argv),
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(os.environ if env is None else env),
            start_new_session=True,
        )
    server = Server(name, process, port, log)
    try:
        _wait_http(server, ready_path, timeout_s=60)
        yield server
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=35)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def uvicorn_argv(
    app: str, *, port: int, workers: int, factory: bool = False
) -> list[str]:
    """uvicorn serving a bench app (`load_apps`), as `govproxy serve` runs the proxy."""
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "--app-dir",
        str(BENCH_DIR),
        *(["--factory"] if factory else []),
        app,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        "--no-access-log",
    ]


def proxy_argv(config: Path, *, port: int, workers: int) -> list[str]:
    """`govproxy serve` over the deployment whose settings file is `config`."""
    return [
        sys.executable,
        "-m",
        "governance",
        "--config",
        str(config),
        "serve",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]


def nginx_argv(root: Path, *, port: int, upstream: int, body: bytes) -> list[str]:
    """nginx (one worker) serving `body` as /static.json and proxying /asgi/ to `upstream`.

    Writes its configuration and files under `root`, readable by its worker user.
    """
    (root / "www").mkdir(parents=True, exist_ok=True)
    (root / "www" / "static.json").write_bytes(body)
    conf = root / "nginx.conf"
    conf.write_text(_NGINX_CONF.format(root=root, port=port, upstream=upstream))
    for path in (root, root / "www", root / "www" / "static.json"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return [
        tool("nginx"),
        "-p",
        str(root),
        "-c",
        str(conf),
        "-e",
        str(root / "error.log"),
    ]

"""Drive wrk (Debian's, 4.1 with LuaJIT) from a generated Lua script.

The script rotates through a list of requests (many subject URLs, each with
its headers and body) and, from its `done()` hook, prints one line
`BENCH_JSON {...}` with the counts and latency percentiles, which `run`
parses.

Closed loop: each of `connections` connections sends its next request as soon
as the previous answer arrives; the rate is the most the server gives.

Paced (`rate`): wrk cannot hold a rate by itself, so the script's `delay()`
hook, which wrk calls before each request on a connection, keeps an open-loop
schedule for the whole thread: request k is due at the k-th instant of a
Poisson process of `rate` per second (exponential gaps, a monotonic clock read
through LuaJIT's FFI), and waits until then. A request whose slot has passed
(every connection was busy) goes at once and counts as late: wrk measures its
latency from when it was sent, not from its slot, so a run with many late
requests understates its tail (coordinated omission). With many more
connections than the rate times the latency, none is late, and the schedule
is the offered load whatever the server's speed.
"""

import json
import resource
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

MARK = "BENCH_JSON "
_ROTATION = """
local requests, n, i = nil, 0, 0
init = function(args)  -- after wrk has set the Host header wrk.format adds
  requests = {{
{entries}
  }}
  n = #requests
end
request = function()
  i = i % n + 1
  return requests[i]
end
"""
_PACING = """
local ffi = require("ffi")
ffi.cdef[[
typedef struct {{ long tv_sec; long tv_nsec; }} bench_timespec;
int clock_gettime(int clk_id, bench_timespec *tp);
]]
local ts = ffi.new("bench_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, ts)  -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end
local gap_ms = 1000 / {rate}
local slot = nil
sent, late, max_lag_ms = 0, 0, 0
delay = function()
  local now = now_ms()
  slot = slot or now
  local wait = slot - now
  slot = slot - gap_ms * math.log(1 - math.random())
  sent = sent + 1
  if wait < -1 then
    late = late + 1
    if -wait > max_lag_ms then max_lag_ms = -wait end
  end
  if wait <= 0 then return 0 end
  return math.floor(wait + 0.5)
end
"""
_REPORT = """
local threads = {}
setup = function(thread) table.insert(threads, thread) end
done = function(summary, latency, requests)
  local sent, late, lag = 0, 0, 0
  for _, t in ipairs(threads) do
    sent = sent + (t:get("sent") or 0)
    late = late + (t:get("late") or 0)
    lag = math.max(lag, t:get("max_lag_ms") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    "BENCH_JSON {\\"requests\\":%d,\\"duration_us\\":%d,\\"connect\\":%d,"
    .. "\\"read\\":%d,\\"write\\":%d,\\"status\\":%d,\\"timeout\\":%d,"
    .. "\\"p50_us\\":%d,\\"p90_us\\":%d,\\"p99_us\\":%d,\\"max_us\\":%d,"
    .. "\\"sent\\":%d,\\"late\\":%d,\\"max_lag_ms\\":%.1f}\\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, sent, late, lag))
end
"""


@dataclass(frozen=True)
class Request:
    """One request of the rotation."""

    method: str
    path: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: str | None = None


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run measured."""

    requests: int
    seconds: float
    errors: int  # status >= 400, and connect, read, write and timeout errors
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    late: int  # paced runs: requests sent after their slot (every connection busy)
    max_lag_ms: float
    client_cpu_s: float  # wrk's own CPU time

    @property
    def rate(self) -> float:
        """Completed requests per second."""
        return self.requests / self.seconds if self.seconds else 0.0


def lua_str(text: str) -> str:
    """`text` as a Lua string literal: printable ASCII as is, every other byte escaped."""
    out = []
    for byte in text.encode():
        ch = chr(byte)
        if 32 <= byte < 127 and ch not in '"\\':
            out.append(ch)
        else:
            out.append(f"\\{byte:03d}")
    return '"' + "".join(out) + '"'


def lua_script(requests: Sequence[Request], rate: float | None = None) -> str:
    """The wrk script that rotates through `requests`, paced at `rate` per second if given."""
    if not requests:
        raise ValueError("no requests to rotate through")
    if rate is not None and rate <= 0:
        raise ValueError("rate must be positive")
    entries = []
    for r in requests:
        headers = ", ".join(
            f"[{lua_str(k)}] = {lua_str(v)}" for k, v in r.headers.items()
        )
        body = "nil" if r.body is None else lua_str(r.body)
        entries.append(
            f"    wrk.format({lua_str(r.method)}, {lua_str(r.path)}, {{{headers}}}, {body}),"
        )
    script = _ROTATION.format(entries="\n".join(entries))
    if rate is not None:
        script += _PACING.format(rate=float(rate))
    return script + _REPORT


def parse_report(stdout: str, client_cpu_s: float) -> WrkResult:
    """The result in wrk's output; ValueError if the script's line is missing."""
    line = next((ln for ln in stdout.splitlines() if ln.startswith(MARK)), None)
    if line is None:
        raise ValueError(f"wrk printed no {MARK.strip()} line:\n{stdout[-2000:]}")
    d = json.loads(line[len(MARK) :])
    errors = sum(d[k] for k in ("connect", "read", "write", "status", "timeout"))
    return WrkResult(
        requests=d["requests"],
        seconds=d["duration_us"] / 1e6,
        errors=errors,
        p50_ms=d["p50_us"] / 1000,
        p90_ms=d["p90_us"] / 1000,
        p99_ms=d["p99_us"] / 1000,
        max_ms=d["max_us"] / 1000,
        late=d["late"],
        max_lag_ms=d["max_lag_ms"],
        client_cpu_s=client_cpu_s,
    )


def tool(name: str) -> str:
    """The full path of a Debian tool the bench runs; SystemExit if it is not installed."""
    found = shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} is not installed (apt-get install {name})")
    return found


def run(
    url: str, script: Path, *, seconds: float, connections: int, timeout_s: float = 5.0
) -> WrkResult:
    """Run wrk with one thread (the load generator shares the machine's 2 cores)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(  # noqa: S603 - fixed arguments
        [
            tool("wrk"),
            "-t1",
            f"-c{connections}",
            f"-d{seconds:g}s",
            f"--timeout={timeout_s:g}s",
            "--latency",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=seconds + 60,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip()}")
    return parse_report(done.stdout, cpu)

"""What metrics and the canonical request line cost a governed read, in process.

Usage: python bench/observability_bench.py [--customers 2000] [--reads 3000] [--rounds 5]
       [--clients 16]

Builds (or reuses) a demo deployment and runs the real app's lifespan. Governed
reads (GET /v1/datasets/customers/records/{id}, marketing_push, consented adults:
authenticated, consent-checked, decided, masked, durably audited) are sent
straight to the ASGI app by 16 concurrent tasks (`--clients`), no HTTP, through
two middleware stacks of the same app: with `RequestLog` (request id, request
metrics, the canonical log line) and without it, the latter twice: the
difference between its two runs is the noise floor. Rounds rotate; the median
CPU time per read (the event loop thread's) of each is reported, and the
differences. Log lines go to /dev/null; the checkpoint sealer and the bundle
poller are off. With several clients a slightly slower request can change how
many events each group commit takes, and so the commits' CPU per read: one
client gives each read its own commit either way.

On a busy machine the difference drowns in the noise of a 1-2 ms read, so it
also times the parts alone: each metric operation a read performs (the request
counter and histogram, a decision-cache hit, a consent lookup, the audit queue
gauge up and down), one log line as the proxy renders it now (orjson) and as
before (`json.dumps`, the former `access_completed` line), and `RequestLog`
around an ASGI app that answers at once.
"""

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
import timeit
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import structlog
from _demo import consented_adults

from governance.app import create_app
from governance.demo.setup import prepare_demo
from governance.logging import configure_logging
from governance.observability import metrics
from governance.observability.request_log import RequestLog
from governance.settings import load_settings

LINE = {
    "request_id": "af32c26378e37301b5b24239e7e943a2",
    "method": "GET",
    "route": "/v1/datasets/{dataset}/records/{subject_id}",
    "status": 200,
    "code": None,
    "duration_ms": 1.234,
    "decision_id": "608e7bfc-44b3-4ab7-8588-61e3eea9b447",
    "caller": "campaign-sms",
    "purpose": "marketing_push",
    "kind": "access.read",
    "outcome": "allowed",
}
FORMER_LINE = {
    "kind": "access.read",
    "caller": "campaign-sms",
    "purpose": "marketing_push",
    "dataset": "customers",
    "outcome": "allowed",
    "reason": None,
    "decision_id": "608e7bfc-44b3-4ab7-8588-61e3eea9b447",
}


def scope_of(app: Any, path: str, key: str) -> dict[str, Any]:
    """An HTTP scope as uvicorn and Starlette make it for one governed read."""
    return {
        "app": app,
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"bench"),
            (b"authorization", f"Bearer {key}".encode()),
            (b"x-purpose", b"marketing_push"),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
    }


async def reads(
    app: Any, stack: Any, key: str, ids: list[str], count: int, clients: int
) -> float:
    """CPU seconds per read for `count` reads by `clients` concurrent tasks."""
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def client(n: int) -> None:
        rng = random.Random(n)

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])

        for _ in range(count // clients):
            path = f"/v1/datasets/customers/records/{rng.choice(ids)}"
            await stack(scope_of(app, path, key), receive, send)

    started = time.thread_time()  # the loop's thread: the commits' fsync waits aside
    await asyncio.gather(*(client(n) for n in range(clients)))
    spent = time.thread_time() - started
    if set(statuses) != {200}:
        raise SystemExit(f"unexpected statuses {sorted(set(statuses))}")
    return spent / len(statuses)


async def compare(
    folder: Path, count: int, rounds: int, clients: int
) -> dict[str, list[float]]:
    """Rotated rounds through the stack with RequestLog and twice the one without."""
    creds = json.loads((folder / "demo-credentials.json").read_text(encoding="utf-8"))
    key = next(c["key"] for c in creds if c["name"] == "campaign-sms")
    ids = consented_adults(folder)
    # No background sealing or bundle polling: their CPU would land in random rounds.
    settings = load_settings(
        folder / "govproxy.yaml", checkpoint_seconds=0, policy_reload_seconds=0
    )
    app = create_app(settings)
    stacks = {"with RequestLog": app.build_middleware_stack()}
    app.user_middleware = [
        m
        for m in app.user_middleware
        if m.cls is not RequestLog  # type: ignore[comparison-overlap]  # Starlette's typing
    ]
    # The same stack twice: their difference is the noise floor of this run.
    stacks |= {
        name: app.build_middleware_stack() for name in ("without", "without, again")
    }
    found: dict[str, list[float]] = {name: [] for name in stacks}
    names = list(stacks)
    async with app.router.lifespan_context(app):
        for stack in stacks.values():  # warm-up: caches, connections
            await reads(app, stack, key, ids, count // 4, clients)
        for n in range(rounds):  # rotated: none always runs first
            for name in names[n % 3 :] + names[: n % 3]:
                found[name].append(
                    await reads(app, stacks[name], key, ids, count, clients)
                )
    return found


async def middleware_alone(number: int) -> float:
    """Microseconds `RequestLog` adds around an app that answers at once."""

    async def bare(_scope: Any, _receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    async def receive() -> dict[str, Any]:
        return {"type": "http.request"}

    async def send(_message: Any) -> None:
        return None

    wrapped = RequestLog(bare)
    scope = scope_of(None, "/v1/datasets/customers/records/C000001", "gp_x_y")
    found: dict[Any, list[float]] = {bare: [], wrapped: []}
    for _ in range(5):
        for app in found:
            started = time.process_time()
            for _ in range(number):
                await app(dict(scope), receive, send)
            found[app].append((time.process_time() - started) / number * 1e6)
    return statistics.median(found[wrapped]) - statistics.median(found[bare])


def micro(number: int = 200_000) -> dict[str, float]:
    """Microseconds per metric operation, and per log line."""
    request = metrics.REQUESTS.labels("/bench", "GET", "200", "")
    seconds = metrics.REQUEST_SECONDS.labels("/bench", "GET")

    def queue() -> None:
        metrics.AUDIT_QUEUED.inc(1)
        metrics.AUDIT_QUEUED.dec(1)

    ops = {
        "request counter inc": request.inc,
        "request histogram observe": lambda: seconds.observe(0.0012),
        "decision-cache hit inc": metrics.CACHE_HITS.inc,
        "consent lookup inc": metrics.CONSENT_LOOKUPS.inc,
        "audit queue gauge inc+dec": queue,
    }
    found = {
        k: timeit.timeit(op, number=number) / number * 1e6 for k, op in ops.items()
    }
    configure_logging("json")
    log = structlog.get_logger("bench")
    lines = number // 20
    found["log line, orjson (now)"] = (
        timeit.timeit(lambda: log.info("request", **LINE), number=lines) / lines * 1e6
    )
    configure_logging("json")
    structlog.get_config()["processors"][-1] = structlog.processors.JSONRenderer()
    found["log line, json.dumps (before)"] = (
        timeit.timeit(lambda: log.info("access_completed", **FORMER_LINE), number=lines)
        / lines
        * 1e6
    )
    configure_logging("json")
    found["RequestLog around a bare app"] = asyncio.run(middleware_alone(number // 20))
    return found


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--reads", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--data-dir", type=Path)
    args = parser.parse_args()
    folder = args.data_dir or Path(tempfile.mkdtemp(prefix="obs-bench-"))
    if not (folder / "govproxy.yaml").exists():
        prepare_demo(
            folder, seed=7, customers=args.customers, port=8080, host="127.0.0.1"
        )
    os.environ["GOV_LOG_FORMAT"] = "json"
    with open(os.devnull, "w") as sink, redirect_stdout(sink):
        found = asyncio.run(compare(folder, args.reads, args.rounds, args.clients))
        costs = micro()
    print(
        f"governed reads in process, {args.clients} tasks, {args.reads} reads x {args.rounds}"
    )
    medians = {k: statistics.median(v) * 1e6 for k, v in found.items()}
    for name, per_read in medians.items():
        rounds = ", ".join(f"{v * 1e6:.0f}" for v in found[name])
        print(f"  {name:<16} {per_read:6.0f} us CPU/read (rounds: {rounds})")
    for name in ("with RequestLog", "without, again"):
        paired = statistics.median(
            (a - b) * 1e6 for a, b in zip(found[name], found["without"], strict=True)
        )
        print(
            f"  {name} - without: {medians[name] - medians['without']:.0f} us CPU/read"
            f" (medians), {paired:.0f} us (median of paired rounds)"
        )
    print("micro-costs, us per call:")
    for name, us in costs.items():
        print(f"  {name:<32} {us:6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

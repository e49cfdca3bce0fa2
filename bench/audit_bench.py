"""Durable audit throughput: the group-commit writer on SQLite and PostgreSQL (issue #6).

Usage: python bench/audit_bench.py [--seconds 5] [--appenders 1,64,256] [--rate 5000]
       [--readers 16] [--backends sqlite,postgres] [--customers 2000] [--pg-url URL]

Measures in one run, each after a warm-up, the audit event of a governed read
(built as `governance.trail` builds it, with a decision shape):
  * no audit: tasks build events and append none, the ceiling of this loop;
  * writer alone, closed loop: N appenders each append an event and wait for its
    commit, for each N of `--appenders` (1: every event its own commit, what
    durability costs without grouping). A closed loop of N appenders can reach
    at most N / commit latency events/s (Little's law), whatever the writer does;
  * writer alone, open loop: events arrive at `--rate` per second whether or not
    earlier ones are committed, as requests arrive at a proxy; the writer
    sustains the rate if it commits them as fast as they come (>= 97%);
  * governed reads in process: `--readers` concurrent clients read records
    through the real app (ASGI, no sockets), with the durable audit append and
    with it replaced by a no-op, so the difference is what audit costs a request.
Durability is the store's own: SQLite WAL with synchronous=FULL (a file in a
temporary directory), PostgreSQL with synchronous_commit=on (a throwaway
database `gov_bench_<random>`, created and dropped here; skipped, and the run
fails, if the server does not answer). Prints one table and PASS/FAIL: each
store must sustain the open-loop rate, at least 5,000 events/s. On a shared
machine wall-clock rates follow the CPU this process gets (printed at the
start, measured by a busy loop); the `CPU µs each` column (this process's CPU
time per completed operation, all threads) does not.
"""

import argparse
import asyncio
import json
import os
import platform
import random
import shutil
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager, redirect_stdout
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

import httpx2 as httpx
from _pg import DEFAULT_PG_URL, UNREACHABLE, postgres_database, server_description
from sqlalchemy import insert, select

from audit.record import AuditDraft, DecisionShape
from audit.writer import AuditWriter
from governance.app import create_app
from governance.auth.models import Caller
from governance.demo.setup import prepare_demo
from governance.settings import load_settings
from governance.store import open_store

TARGET_EVENTS_PER_S = 5_000
SUSTAINED = 0.97  # share of the offered rate an open loop must complete
FIELDS = ("customer_id", "name", "nickname", "mobile", "email")
OBLIGATIONS = {
    "customer_id": "keep",
    "name": "mask",
    "nickname": "keep",
    "mobile": "keep",
    "email": "mask",
    "id_number": "withhold",
    "address": "withhold",
    "bank_card": "withhold",
    "birth_date": "withhold",
    "service_note": "withhold",
}
# A few distinct decisions, as a decision cache sees them: most events share one.
SHAPES = [
    DecisionShape.of(
        "bench-rev", {"purpose": "marketing_push", "n": n}, {"allow": True}
    )
    for n in range(8)
]


@dataclass
class Run:
    """One measured configuration."""

    store: str
    mode: str
    load: str
    seconds: float = 0.0
    cpu: float = 0.0  # this process's CPU seconds (all threads) during the run
    completed_in_time: int | None = None  # open loop: completions within `seconds`
    latencies: list[float] = field(default_factory=list)
    commits: int = 0

    @property
    def rate(self) -> float:
        """Completed operations per second."""
        done = self.completed_in_time
        done = len(self.latencies) if done is None else done
        return done / self.seconds if self.seconds else 0.0

    def pct(self, p: float) -> float:
        """The `p` quantile of the latencies, in ms."""
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000

    def row(self) -> str:
        """This run as a table row."""
        done = len(self.latencies)
        per_commit = f"{done / self.commits:.1f}" if self.commits else "-"
        cpu = f"{self.cpu / done * 1e6:.0f}" if done else "-"
        return (
            f"| {self.store} | {self.mode} | {self.load} | {self.rate:,.0f} |"
            f" {self.pct(0.5):.2f} | {self.pct(0.99):.2f} | {per_commit} | {cpu} |"
        )


Step = Callable[[random.Random], Awaitable[object]]


def access_event(rng: random.Random) -> AuditDraft:
    """The audit event of one allowed governed read, as `governance.trail` builds it."""
    return AuditDraft(
        kind="access.read",
        outcome="allowed",
        caller="campaign-sms",
        purpose="marketing_push",
        dataset="customers",
        subject_ref=f"s_{rng.getrandbits(128):032x}",
        fields=FIELDS,
        obligations=OBLIGATIONS,
        decision_id=str(uuid.uuid4()),
        policy_revision="bench-rev",
        decision=SHAPES[0] if rng.random() < 0.9 else rng.choice(SHAPES),
    )


async def timed(run: Run, step: Step, rng: random.Random) -> None:
    """One `step`, its latency recorded in `run`."""
    t = time.perf_counter()
    await step(rng)
    run.latencies.append(time.perf_counter() - t)


async def closed_loop(run: Run, workers: int, seconds: float, step: Step) -> None:
    """`workers` tasks each repeat `step` until `seconds` pass."""
    end = time.perf_counter() + seconds

    async def worker(n: int) -> None:
        rng = random.Random(n)
        while time.perf_counter() < end:
            await timed(run, step, rng)

    start, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker(n) for n in range(workers)))
    run.seconds, run.cpu = time.perf_counter() - start, time.process_time() - cpu


async def open_loop(run: Run, rate: float, seconds: float, step: Step) -> None:
    """Start `step` `rate` times a second for `seconds`, each without waiting for others.

    The rate is what completed within those `seconds`: a writer that keeps up
    leaves only the last commit's events in flight at the end, one that falls
    behind a backlog growing with time.
    """
    rng, started, tasks = random.Random(0), 0, []
    start, cpu = time.perf_counter(), time.process_time()
    while (now := time.perf_counter()) < start + seconds:
        due = int((now - start) * rate)
        tasks += [
            asyncio.create_task(timed(run, step, rng)) for _ in range(due - started)
        ]
        started = due
        await asyncio.sleep(0.001)
    done = len(run.latencies)
    run.seconds, run.cpu = time.perf_counter() - start, time.process_time() - cpu
    await asyncio.gather(*tasks)  # the stragglers count in the latencies, not the rate
    run.completed_in_time = done


async def no_audit(workers: int, seconds: float) -> Run:
    """Build the events, append none: the workload's ceiling on this loop."""

    async def step(rng: random.Random) -> None:
        access_event(rng).columns()
        await asyncio.sleep(0)

    run = Run("-", "no audit (event built, not appended)", f"{workers} tasks")
    await closed_loop(run, workers, seconds, step)
    return run


async def writer_alone(
    store_name: str, url: str, appenders: list[int], rate: float, seconds: float
) -> list[Run]:
    """One writer over the store at `url`: closed loops of each N, then the open loop."""
    store = await open_store(url)
    writer = AuditWriter(store)
    await writer.start()
    real_commit = writer._commit
    runs: list[Run] = []

    async def counted(batch: list[Any]) -> list[dict[str, Any]]:
        if runs:  # not during the warm-up
            runs[-1].commits += 1
        return await real_commit(batch)

    async def step(rng: random.Random) -> None:
        await writer.append(access_event(rng))

    writer._commit = counted  # type: ignore[method-assign]
    try:
        await closed_loop(Run(store_name, "warm-up", ""), 16, 1.0, step)
        for n in [*appenders, None]:
            load = f"{n} appenders" if n else f"open, {rate:,.0f}/s offered"
            runs.append(run := Run(store_name, "durable append, writer alone", load))
            if n is None:
                await open_loop(run, rate, seconds, step)
            else:
                await closed_loop(run, n, seconds, step)
    finally:
        await writer.stop()
        await store.dispose()
    return runs


class _NoAudit:
    """Stands in for the writer: returns at once and stores nothing (baseline only)."""

    async def append(self, draft: AuditDraft, **_also: Any) -> dict[str, Any]:
        return draft.columns()


@asynccontextmanager
async def quiet() -> AsyncIterator[None]:
    """The app's access log lines go nowhere while inside (they still cost their time)."""
    with open(os.devnull, "w") as sink, redirect_stdout(sink):
        yield


@asynccontextmanager
async def running_app(folder: Path, store_url: str) -> AsyncIterator[Any]:
    """The real app over the demo deployment in `folder`, its store at `store_url`."""
    settings = load_settings(folder / "govproxy.yaml", store_url=store_url)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


async def governed_reads(
    folder: Path, store: tuple[str, str], readers: int, seconds: float
) -> list[Run]:
    """Governed reads in process, with the durable audit append and without it."""
    key, ids = read_plan(folder)
    headers = {"Authorization": f"Bearer {key}", "X-Purpose": "order_fulfilment"}
    runs = []
    async with running_app(folder, store[1]) as app, quiet():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as c:

            async def step(rng: random.Random) -> None:
                r = await c.get(
                    f"/v1/datasets/customers/records/{rng.choice(ids)}", headers=headers
                )
                if r.status_code != 200:
                    raise SystemExit(f"unexpected {r.status_code}: {r.text[:200]}")

            audited = app.state.services
            await closed_loop(Run(store[0], "warm-up", ""), readers, 1.0, step)
            for mode, services in (
                ("governed reads, durable audit", audited),
                (
                    "governed reads, no audit",
                    replace(audited, audit=cast(Any, _NoAudit())),
                ),
            ):
                app.state.services = services
                run = Run(store[0], mode, f"{readers} clients")
                await closed_loop(run, readers, seconds, step)
                runs.append(run)
            app.state.services = audited
    return runs


def read_plan(folder: Path) -> tuple[str, list[str]]:
    """The brand-app's key and adult customers it may read for order fulfilment."""
    creds = json.loads((folder / "demo-credentials.json").read_text(encoding="utf-8"))
    key = next(c["key"] for c in creds if c["name"] == "brand-app")
    with sqlite3.connect(folder / "customers.db") as conn:
        rows = conn.execute(
            "SELECT customer_id FROM customers WHERE birth_date < '2006-01-01'"
        ).fetchall()
    return key, [r[0] for r in rows]


async def copy_callers(db: Path, url: str) -> None:
    """Create the store at `url` with the demo store's callers (keys included)."""
    source, target = (
        await open_store(f"sqlite+aiosqlite:///{db}"),
        await open_store(url),
    )
    try:
        async with source.connect() as conn:
            rows = [dict(r._mapping) for r in await conn.execute(select(Caller))]
        async with target.begin() as conn:
            await conn.execute(insert(Caller), rows)
    finally:
        await source.dispose()
        await target.dispose()


@contextmanager
def stores(
    backends: list[str], root: Path, pg_url: str
) -> Iterator[list[tuple[str, str]]]:
    """(name, URL) of a fresh audit store per backend (SQLite: a file under `root`)."""
    found = []
    if "sqlite" in backends:
        found.append(("sqlite", f"sqlite+aiosqlite:///{root / 'audit.db'}"))
    if "postgres" not in backends:
        yield found
        return
    with postgres_database(pg_url) as url:
        yield [*found, ("postgresql", url)]


def cpu_share(seconds: float = 1.0) -> float:
    """How much of one core a busy loop of this process gets now (1.0 on a quiet machine)."""
    start, cpu = time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds:
        pass
    return (time.process_time() - cpu) / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--appenders", default="1,64,256")
    parser.add_argument("--rate", type=float, default=TARGET_EVENTS_PER_S)
    parser.add_argument("--readers", type=int, default=16)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL, help="server to administer")
    args = parser.parse_args()
    requested = [b.strip() for b in args.backends.split(",") if b.strip()]
    pg = None
    if "postgres" in requested:
        try:
            pg = server_description(args.pg_url)
        except UNREACHABLE:
            pg = None
    print(
        f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start"
        f" (this process gets {cpu_share():.0%} of a core);"
        f" CPython {platform.python_version()}, SQLite {sqlite3.sqlite_version}"
        f"{', ' + pg if pg else ''}"
    )
    backends = [b for b in requested if b != "postgres" or pg is not None]
    if backends != requested:
        print("PostgreSQL does not answer: its rows are skipped, and the run fails")
    root = Path(tempfile.mkdtemp(prefix="govaudit-"))
    try:
        runs = measure(args, backends, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(
        "| store | mode | load | per s | p50 ms | p99 ms | events/commit"
        " | CPU µs each |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for run in runs:
        print(run.row())
    print(f"load average after the run: {os.getloadavg()[0]:.2f}")
    ok = backends == requested
    for run in runs:
        if run.load.startswith("open"):
            sustained = run.rate >= SUSTAINED * args.rate
            ok = ok and sustained and args.rate >= TARGET_EVENTS_PER_S
            print(
                f"{run.store}: {run.rate:,.0f} durable events/s of {args.rate:,.0f}/s offered"
                f" (target: sustain >= {TARGET_EVENTS_PER_S:,}/s):"
                f" {'sustained' if sustained else 'fell behind'}"
            )
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


def measure(args: argparse.Namespace, backends: list[str], root: Path) -> list[Run]:
    """Every configuration, in order, each on a store of its own."""
    appenders = [int(n) for n in args.appenders.split(",")]
    demo = root / "demo"
    prepare_demo(demo, seed=2026, customers=args.customers, port=8080, host="127.0.0.1")
    runs = [asyncio.run(no_audit(max(appenders), args.seconds))]
    with stores(backends, root, args.pg_url) as urls:
        for name, url in urls:
            runs += asyncio.run(
                writer_alone(name, url, appenders, args.rate, args.seconds)
            )
    # Fresh stores for the reads (SQLite: the demo's own), or the app's checkpoint
    # sealer would spend them sealing the writer-alone events.
    demo_store = f"sqlite+aiosqlite:///{demo / 'governance.db'}"
    with stores([b for b in backends if b != "sqlite"], root, args.pg_url) as urls:
        for _, url in urls:
            asyncio.run(copy_callers(demo / "governance.db", url))
        if "sqlite" in backends:
            urls.insert(0, ("sqlite", demo_store))
        for store in urls:
            runs += asyncio.run(governed_reads(demo, store, args.readers, args.seconds))
    return runs


if __name__ == "__main__":
    sys.exit(main())

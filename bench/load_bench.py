"""Load benchmark against the floor (issue #7): wrk over loopback, one run, every layer.

Usage: python bench/load_bench.py [--seconds 5] [--warmup 2] [--connections 32]
       [--stores sqlite,postgres] [--workers 1,2]
       [--only floor,sql,ungoverned,read,query,paced (,engine)] [--customers 10000]
       [--pg-url URL] [--profile SECONDS] [--profile-out FILE]

Measures, in this order, each for `--seconds` after `--warmup` seconds of the
same load (wrk, one thread, `--connections` keep-alive connections, closed loop):
  floor       nginx (one worker) serving a static JSON file; a no-op raw ASGI
              app on uvicorn (`load_apps.noop`) with each worker count; nginx
              proxying to it (the hop a load balancer adds);
  sql         a direct read of the same rows by key, in this process, one at a
              time: sqlite3, and asyncpg on one connection (the baseline);
  then per store and worker count:
  ungoverned  FastAPI reading the same columns of the same row with the same
              driver (`load_apps.ungoverned`), on uvicorn with N workers;
  engine      (only when asked) the same endpoint reading through the engine the
              proxy builds for a data source (SQLAlchemy Core, its pool and
              pre-ping): the data-access layer's share of the gap;
  duties      the same endpoint doing by hand the duties a governed read does
              that cost I/O: the subject's consent row read from the proxy's
              store, and an access-log row committed durably per request
              (`load_apps`); a like-for-like comparison, reported, not a target;
  read        governed single-record reads through `govproxy serve --workers N`
              (authenticated, consent-checked, decided, masked, durably
              audited), rotating through every consented adult of the demo;
  query       governed queries: the first page (20) of a tag filter, rotating
              through 8 filters;
  paced       governed reads in open loop at 700/s (70% of the 1,000/s
              target), then at `--paced-share` (70%) of the `read` rate just
              measured (see bench/_wrk.py: Poisson arrivals scheduled by wrk's
              `delay()` hook over 64 connections; `late` counts requests
              that could not leave on time and so understate the tail).
              By default only on PostgreSQL with the most workers.
Stores: the demo deployment (`govproxy demo --no-serve`), and the same on
PostgreSQL (store and customer source in throwaway databases on `--pg-url`).

Per row: requests/s, p50, p99 (wrk's, from when a request is sent), CPU per
request of the server processes (user + system from /proc, every worker, all
threads), of the PostgreSQL server (all its processes: exact only when nothing
else uses it), and of wrk; errors = status >= 400 plus socket errors and
timeouts. The 1-minute load average at the end of each row tells how busy the
machine was. Targets (PASS/FAIL): governed reads >= 60% of the ungoverned
endpoint's rate (same store, same workers); >= 1,000 governed reads/s on
PostgreSQL with 2 workers; p99 <= 25 ms paced at 70% of that (700/s), with
no errors and under 1% late. The same check at 70% of the measured rate, a
stricter reading of the issue, is printed too and not counted. `--profile S`
then samples the governed read path on PostgreSQL with 1 worker under
closed-loop load with py-spy for S seconds and prints where the time goes.
"""

import argparse
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

from _demo import (
    consented_adults,
    key_of,
    prepare_pg_demo,
    prepare_sqlite_demo,
)
from _load_report import TargetCheck, check_targets, print_rows
from _load_runs import Runner, Store
from _pg import DEFAULT_PG_URL, UNREACHABLE, dsn, postgres_database, server_description
from sqlalchemy.engine import make_url

SECTIONS = (
    "floor", "sql", "ungoverned", "engine", "duties", "read", "query", "paced"
)  # fmt: skip
DEFAULT_SECTIONS = ("floor", "sql", "ungoverned", "duties", "read", "query", "paced")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Options; see the module docstring."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=5.0, help="measured, per row")
    p.add_argument("--warmup", type=float, default=2.0, help="unmeasured, per row")
    p.add_argument("--connections", type=int, default=32, help="closed-loop rows")
    p.add_argument("--paced-connections", type=int, default=64)
    p.add_argument("--paced-share", type=float, default=0.7)
    p.add_argument("--paced", choices=("target", "all"), default="target")
    p.add_argument("--stores", default="sqlite,postgres")
    p.add_argument("--workers", default="1,2")
    p.add_argument("--only", default=",".join(DEFAULT_SECTIONS))
    p.add_argument("--customers", type=int, default=10_000)
    p.add_argument("--pg-url", default=DEFAULT_PG_URL, help="server to administer")
    p.add_argument("--profile", type=float, default=0.0, help="seconds of py-spy")
    p.add_argument("--profile-out", type=Path)
    p.add_argument("--profile-path", choices=("read", "query"), default="read")
    p.add_argument(
        "--profile-all-threads",
        action="store_true",
        help="sample every running thread, not only the one holding the GIL",
    )
    p.add_argument("--keep", action="store_true", help="keep the demos and server logs")
    args = p.parse_args(argv)
    args.stores = _choices(p, "--stores", args.stores, ("sqlite", "postgres"))
    args.only = _choices(p, "--only", args.only, SECTIONS)
    try:
        args.workers = sorted({int(w) for w in args.workers.split(",") if w.strip()})
    except ValueError:
        p.error("--workers: whole numbers, comma-separated")
    if not args.workers or min(args.workers) < 1:
        p.error("--workers: at least one count, each at least 1")
    if not 0 < args.paced_share <= 1:
        p.error("--paced-share: a share in (0, 1]")
    return args


def _choices(
    p: argparse.ArgumentParser, flag: str, value: str, allowed: tuple[str, ...]
) -> list[str]:
    chosen = [v.strip() for v in value.split(",") if v.strip()]
    if unknown := set(chosen) - set(allowed):
        p.error(
            f"{flag}: unknown {', '.join(sorted(unknown))}; from {', '.join(allowed)}"
        )
    return chosen


def _database(url: str) -> str:
    return str(make_url(url).database)


def _version(argv: list[str]) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)  # noqa: S603
    out = (done.stdout + done.stderr).strip().splitlines()
    return out[0] if out else "?"


def main(argv: list[str] | None = None) -> int:
    """Run every selected row, print the table and the targets; 1 if a target failed."""
    args = parse_args(argv)
    pg = None
    if "postgres" in args.stores:
        try:
            pg = server_description(args.pg_url)
        except UNREACHABLE as exc:
            print(
                f"PostgreSQL unreachable ({type(exc).__name__}): its rows are skipped"
            )
            args.stores.remove("postgres")
    print(
        f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start;"
        f" CPython {platform.python_version()}, SQLite {sqlite3.sqlite_version}"
        f"{', ' + pg if pg else ''}; {_version(['wrk', '--version'])};"
        f" {_version(['nginx', '-v'])}"
    )
    root = Path(tempfile.mkdtemp(prefix="govload-"))
    root.chmod(0o755)  # nginx's worker user reads its files below
    with ExitStack() as stack:
        if not args.keep:
            stack.callback(shutil.rmtree, root, ignore_errors=True)
        print(
            f"building the demo ({args.customers:,} customers) under {root}", flush=True
        )
        sqlite_demo = root / "demo-sqlite"
        deployment = prepare_sqlite_demo(sqlite_demo, args.customers)
        ids = consented_adults(sqlite_demo)
        stores = [
            Store(
                "sqlite",
                sqlite_demo / "govproxy.yaml",
                key_of(deployment),
                ungoverned_env={"BENCH_SQLITE": str(sqlite_demo / "customers.db")},
                duties_env={
                    "BENCH_SQLITE": str(sqlite_demo / "customers.db"),
                    "BENCH_DUTIES": str(sqlite_demo / "governance.db"),
                    "BENCH_ACCESS_LOG": str(root / "access-log.db"),
                },
                source_url=f"sqlite+aiosqlite:///{sqlite_demo / 'customers.db'}",
            )
        ]
        if "postgres" in args.stores:
            store_url = stack.enter_context(postgres_database(args.pg_url))
            crm_url = stack.enter_context(postgres_database(args.pg_url))
            pg_demo = root / "demo-postgres"
            pg_deployment = prepare_pg_demo(
                pg_demo,
                sqlite_demo,
                store_url=store_url,
                crm_url=crm_url,
                customers=args.customers,
            )
            stores.append(
                Store(
                    "postgres",
                    pg_demo / "govproxy.yaml",
                    key_of(pg_deployment),
                    ungoverned_env={"BENCH_PG_DSN": dsn(crm_url)},
                    duties_env={
                        "BENCH_PG_DSN": dsn(crm_url),
                        "BENCH_DUTIES": dsn(store_url),
                    },
                    source_url=crm_url,
                    crm_url=crm_url,
                    databases=(_database(store_url), _database(crm_url)),
                )
            )
        stores = [s for s in stores if s.name in args.stores]
        print(f"{len(ids):,} consented adult subjects to rotate through", flush=True)
        runner = Runner(args, root, ids)
        rows = runner.run_all(stores)
        print_rows(rows)
        checks: list[TargetCheck] = check_targets(rows, args)
        if args.profile > 0:
            pg_store = next((s for s in stores if s.name == "postgres"), None)
            if pg_store is None:
                print("profile: needs PostgreSQL (--stores postgres); skipped")
            else:
                runner.profile(pg_store, args.profile_out)
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    failed = [c for c in checks if c.passed is False]
    print("FAIL" if failed else "PASS")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

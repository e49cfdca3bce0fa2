"""Consent checks against a ledger of one million events, SQLite and PostgreSQL (issue #3).

Usage: python bench/consent_bench.py [--backends sqlite,postgres] [--subjects 250000]
       [--reads 5000] [--query-subjects 10000] [--page 1000] [--runs 5] [--pg-url URL]

For each backend, creates the governance store with `open_store()` (SQLite: a
file in a temporary directory; PostgreSQL: a throwaway database
`gov_bench_<random>`, created and dropped here, skipped if the server does not
answer) and bulk-loads `--subjects` x 4 consent events (sqlite3 executemany,
asyncpg COPY), then ANALYZE (PostgreSQL: VACUUM ANALYZE of the ledger and of
`consent_current`, the steady state autovacuum keeps them in). The trigger
fills `consent_current` during the load, as it does in service. Each subject's
four events follow one of a few histories: grants on the current notice,
grants on the retired 2025.06 notice (stale, some renewed with a `superseded`
event), withdrawals, expiries, re-grants, personalisation opt-outs and
opt-ins. Events of different subjects are interleaved as they would be in time, so
a subject's rows are spread over the table.
Then measures, after a warm-up, through the real `ConsentLedger`:
  * read: `check_consent(..., "marketing_push", subject)`, what a governed
    read does, for `--reads` random subjects one after another: p50/p99;
  * query: what a governed query does for `--query-subjects` consecutive subject
    keys (the source scan hands them over in key order) in pages of `--page`
    (1,000 = `max_query_limit`, the largest batch `_fill` passes): per page
    one `lookup` for `personalised_recommendation` (a personalised consent
    purpose: consent and the opt-out, read together) + `consent_problem()`
    per subject not opted out; total ms, median of `--runs` runs.
Prints a table per backend against the targets and PASS/FAIL; exits 1 on FAIL.
"""

import argparse
import asyncio
import json
import os
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from _pg import (
    DEFAULT_PG_URL,
    UNREACHABLE,
    connect,
    postgres_database,
    redacted,
    server_description,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.pg_states import PgStateReader
from adapters.sql.sqlite_states import SqliteStateReader
from governance.catalog import Catalog, load_catalog
from governance.consent.check import check_consent, consent_problem
from governance.consent.ledger import ConsentLedger
from governance.errors import AccessDenied
from governance.store import open_store

TARGET_READ_P50_MS = 0.2
TARGET_QUERY_MS = 20.0  # per 10,000 subjects
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
START = datetime(2026, 1, 2, tzinfo=UTC)  # recorded_at of the first event
STEP = timedelta(seconds=20)  # between consecutive events in the ledger
READ_PURPOSE = "marketing_push"
QUERY_PURPOSE = "personalised_recommendation"
EVENTS_PER_SUBJECT = 4
SEED = 2026

# Columns as `ConsentEvent` declares them; `id` is assigned by the store.
COLUMNS = (
    "event_id",
    "subject_id",
    "purpose",
    "action",
    "notice_version",
    "method",
    "channel",
    "scope",
    "kind",
    "grantor",
    "evidence_hash",
    "expires_at",
    "declared_frequency",
    "refers_to",
    "recorded_at",
    "recorded_by",
)
MP, PR, AN, MC, PE = (
    "marketing_push",
    "personalised_recommendation",
    "analytics",
    "maternal_care_recommendation",
    "personalisation",
)
# Histories of four events per subject: (weight, ((purpose, action, variant), ...)).
# Variants: "old" cites the retired 2025.06 notice; "expired" / "expiring" set
# expires_at before / after NOW.
Step = tuple[str, str, str]
G, W, S = "granted", "withdrawn", "superseded"
HISTORIES: tuple[tuple[int, tuple[Step, ...]], ...] = (
    (26, ((MP, G, ""), (PR, G, ""), (AN, G, ""), (MC, G, ""))),
    (12, ((MP, G, "old"), (MP, S, ""), (MP, G, ""), (PR, G, ""))),
    (8, ((MP, G, "old"), (PR, G, ""), (AN, G, ""), (AN, W, ""))),
    (10, ((MP, G, ""), (MP, W, ""), (PR, G, ""), (AN, G, ""))),
    (8, ((MP, G, ""), (MP, W, ""), (MP, G, ""), (PR, G, ""))),
    (6, ((MP, G, ""), (PR, G, ""), (PE, "opted_out", ""), (AN, G, ""))),
    (3, ((PR, G, ""), (PE, "opted_out", ""), (PE, "opted_in", ""), (MP, G, ""))),
    (7, ((MP, G, "expired"), (PR, G, "expiring"), (AN, G, ""), (MC, G, ""))),
    (10, ((PR, G, ""), (PR, W, ""), (AN, G, ""), (MC, G, ""))),
    (10, ((AN, G, ""), (PR, G, ""), (PR, S, ""), (PR, G, ""))),
)


@dataclass
class Result:
    """What one backend measured."""

    backend: str
    events: int
    load_s: float
    read_lat: list[float] = field(default_factory=list)
    read_outcomes: Counter[str] = field(default_factory=Counter)
    query_runs: list[dict[str, float]] = field(default_factory=list)
    query_outcomes: Counter[str] = field(default_factory=Counter)


def subject_ids(count: int) -> list[str]:
    return [f"C{n:07d}" for n in range(1, count + 1)]


def generate_events(subjects: Sequence[str], seed: int) -> list[tuple[Any, ...]]:
    """`len(subjects)` x 4 rows in `COLUMNS` order (datetimes aware UTC), ledger order.

    Round r holds every subject's r-th event, subjects shuffled per round: a
    subject's history stays in order but its rows are spread over the ledger.
    """
    catalog = load_demo_catalog()
    rng = random.Random(seed)
    scopes: dict[tuple[str, str], tuple[str, str]] = {}
    for purpose, notices in catalog.notices.items():
        for n in notices:
            scopes[purpose, n.version] = (json.dumps(sorted(n.categories)), n.kind)
    weights = [w for w, _ in HISTORIES]
    histories = rng.choices([h for _, h in HISTORIES], weights=weights, k=len(subjects))
    rows: list[tuple[Any, ...]] = []
    last_grant: dict[tuple[str, str], tuple[str, str]] = {}  # event id, notice
    order = list(range(len(subjects)))
    for round_ in range(EVENTS_PER_SUBJECT):
        rng.shuffle(order)
        for i in order:
            subject = subjects[i]
            purpose, action, variant = histories[i][round_]
            at = START + STEP * len(rows)
            event_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            version = "2025.06" if variant == "old" else "2026.01"
            scope, kind = "[]", "general"
            expires: datetime | None = None
            refers: str | None = None
            evidence: str | None = None
            if action == "granted":
                scope, kind = scopes[purpose, version]
                last_grant[subject, purpose] = event_id, version
                if rng.random() < 0.5:
                    evidence = f"{rng.getrandbits(256):064x}"
                if variant == "expired":
                    expires = NOW - timedelta(days=rng.randint(1, 200))
                elif variant == "expiring":
                    expires = NOW + timedelta(days=rng.randint(1, 365))
            elif action in ("superseded", "withdrawn"):  # cite the grant they end
                refers, version = last_grant[subject, purpose]
            rows.append(
                (
                    event_id,
                    subject,
                    purpose,
                    action,
                    version,
                    "app" if evidence else "import",
                    "app",
                    scope,
                    kind,
                    "self",
                    evidence,
                    expires,
                    "4/month" if purpose == MP and action == "granted" else None,
                    refers,
                    at,
                    "bench",
                )
            )
    return rows


def load_demo_catalog() -> Catalog:
    with resources.as_file(
        resources.files("governance.demo").joinpath("catalog.yaml")
    ) as path:
        return load_catalog(Path(path))


def _sqlite_time(moment: datetime | None) -> str | None:
    """As SQLAlchemy stores a DateTime in SQLite: naive UTC, microseconds."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def load_sqlite(path: Path, rows: Sequence[tuple[Any, ...]]) -> None:
    expires_i, recorded_i = COLUMNS.index("expires_at"), COLUMNS.index("recorded_at")

    def stored(row: tuple[Any, ...]) -> tuple[Any, ...]:
        out = list(row)
        out[expires_i] = _sqlite_time(row[expires_i])
        out[recorded_i] = _sqlite_time(row[recorded_i])
        return tuple(out)

    sql = (
        f"INSERT INTO consent_events ({', '.join(COLUMNS)})"  # noqa: S608 - constants
        f" VALUES ({', '.join('?' * len(COLUMNS))})"
    )
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-1000000")
        with conn:
            conn.executemany(sql, map(stored, rows))
        conn.execute("ANALYZE")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


async def load_postgres(url: str, rows: Sequence[tuple[Any, ...]]) -> None:
    conn = await connect(url)
    try:
        await conn.copy_records_to_table(
            "consent_events", records=rows, columns=COLUMNS
        )
        await conn.execute("VACUUM ANALYZE consent_events")
        await conn.execute("VACUUM ANALYZE consent_current")
    finally:
        await conn.close()


async def measure_reads(
    ledger: ConsentLedger, catalog: Catalog, subjects: Sequence[str], result: Result
) -> None:
    """What a governed read does for consent: `check_consent`, exactly."""
    purpose = catalog.purposes[READ_PURPOSE]
    lat = result.read_lat
    for subject in subjects:
        t = time.perf_counter()
        try:
            await check_consent(catalog, ledger, purpose, subject, now=NOW)
            code = "ok"
        except AccessDenied as denied:
            code = denied.code
        lat.append(time.perf_counter() - t)
        result.read_outcomes[code] += 1


async def query_consent(
    ledger: ConsentLedger,
    catalog: Catalog,
    keys: Sequence[str],
    page: int,
    outcomes: Counter[str] | None = None,
) -> dict[str, float]:
    """A governed query's consent work over `keys` (as `query._fill` pages them): ms."""
    purpose = catalog.purposes[QUERY_PURPOSE]
    parts = {"lookup": 0.0, "consent_problem": 0.0}
    start = time.perf_counter()
    for i in range(0, len(keys), page):
        batch = keys[i : i + page]
        t0 = time.perf_counter()
        records, opted = await ledger.lookup(
            batch, purpose.name, now=NOW, opt_out=purpose.personalised
        )
        t1 = time.perf_counter()
        for key in batch:
            if key in opted:
                code = "personalisation_opted_out"
            else:
                problem = consent_problem(catalog, purpose, records[key])
                code = problem.code if problem else "ok"
            if outcomes is not None:
                outcomes[code] += 1
        t2 = time.perf_counter()
        parts["lookup"] += t1 - t0
        parts["consent_problem"] += t2 - t1
    parts["total"] = time.perf_counter() - start
    return {k: v * 1000 for k, v in parts.items()}


async def measure(
    url: str, backend: str, events: int, load_s: float, args: argparse.Namespace
) -> Result:
    engine: AsyncEngine = await open_store(url)
    states: PgStateReader | SqliteStateReader = (
        PgStateReader.for_url(url)
        if backend == "postgres"
        else SqliteStateReader.for_url(url)
    )
    try:
        catalog = load_demo_catalog()
        ledger = ConsentLedger(engine, states)  # as `governance.app` builds it
        result = Result(backend, events, load_s)
        subjects = subject_ids(args.subjects)
        rng = random.Random(SEED + 1)
        warm = Result(backend, events, load_s)
        await measure_reads(ledger, catalog, rng.choices(subjects, k=2000), warm)
        await measure_reads(
            ledger, catalog, rng.choices(subjects, k=args.reads), result
        )

        def window() -> list[str]:
            first = rng.randrange(0, len(subjects) - args.query_subjects + 1)
            return subjects[first : first + args.query_subjects]

        await query_consent(ledger, catalog, window(), args.page)  # warm-up
        for run in range(args.runs):
            outcomes = result.query_outcomes if run == 0 else None
            result.query_runs.append(
                await query_consent(ledger, catalog, window(), args.page, outcomes)
            )
        return result
    finally:
        await states.close()
        await engine.dispose()


def run_sqlite(rows: Sequence[tuple[Any, ...]], args: argparse.Namespace) -> Result:
    with tempfile.TemporaryDirectory(prefix="consent-bench-") as tmp:
        path = Path(tmp) / "governance.db"
        url = f"sqlite+aiosqlite:///{path}"

        async def create() -> None:
            engine = await open_store(url)
            await engine.dispose()

        asyncio.run(create())
        t = time.perf_counter()
        load_sqlite(path, rows)
        load_s = time.perf_counter() - t
        return asyncio.run(measure(url, "sqlite", len(rows), load_s, args))


def run_postgres(rows: Sequence[tuple[Any, ...]], args: argparse.Namespace) -> Result:
    with postgres_database(args.pg_url) as url:

        async def create_and_load() -> float:
            engine = await open_store(url)
            await engine.dispose()
            t = time.perf_counter()
            await load_postgres(url, rows)
            return time.perf_counter() - t

        load_s = asyncio.run(create_and_load())
        return asyncio.run(measure(url, "postgres", len(rows), load_s, args))


def pct(samples: Sequence[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000


def shares(counter: Counter[str]) -> str:
    total = sum(counter.values())
    return ", ".join(f"{k} {v / total:.0%}" for k, v in counter.most_common())


def report(result: Result, args: argparse.Namespace) -> bool:
    """Print the table of one backend; whether it met both targets."""
    p50, p99 = pct(result.read_lat, 0.5), pct(result.read_lat, 0.99)
    median = {
        k: statistics.median(run[k] for run in result.query_runs)
        for k in result.query_runs[0]
    }
    per_10k = median["total"] * 10_000 / args.query_subjects
    read_ok, query_ok = p50 <= TARGET_READ_P50_MS, per_10k <= TARGET_QUERY_MS
    runs = ", ".join(f"{run['total']:.1f}" for run in result.query_runs)
    print(
        f"\n== {result.backend}: {result.events:,} consent events, {args.subjects:,}"
        f" subjects; bulk load + analyze {result.load_s:.1f} s"
    )
    print(f"{'measure':58} {'value':>9} {'target':>9}  result")
    print(
        f"{'read: check_consent(), p50 ms':58} {p50:9.3f}"
        f" {'<= ' + str(TARGET_READ_P50_MS):>9}  {'PASS' if read_ok else 'FAIL'}"
    )
    print(f"{'read: check_consent(), p99 ms':58} {p99:9.3f}")
    print(
        f"{f'query: {args.query_subjects:,} subjects, pages of {args.page:,}, total ms':58}"
        f" {median['total']:9.1f} {'<= ' + str(TARGET_QUERY_MS * args.query_subjects / 10_000):>9}"
        f"  {'PASS' if query_ok else 'FAIL'}"
    )
    for part in ("lookup", "consent_problem"):
        print(f"{'  of which ' + part + ', ms':58} {median[part]:9.1f}")
    print(
        f"  reads ({len(result.read_lat):,} random subjects, {READ_PURPOSE}):"
        f" {shares(result.read_outcomes)}"
    )
    print(
        f"  query ({QUERY_PURPOSE}; runs {runs} ms; outcomes of the first):"
        f" {shares(result.query_outcomes)}"
    )
    return read_ok and query_ok


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--subjects", type=int, default=250_000)
    parser.add_argument("--reads", type=int, default=5_000)
    parser.add_argument("--query-subjects", type=int, default=10_000)
    parser.add_argument("--page", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL, help="server to administer")
    args = parser.parse_args()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if unknown := set(backends) - {"sqlite", "postgres"}:
        parser.error(f"unknown backends: {', '.join(sorted(unknown))}")
    if not 0 < args.query_subjects <= args.subjects:
        parser.error("--query-subjects must be between 1 and --subjects")
    t = time.perf_counter()
    rows = generate_events(subject_ids(args.subjects), SEED)
    print(
        f"generated {len(rows):,} consent events for {args.subjects:,} subjects"
        f" in {time.perf_counter() - t:.1f} s;"
        f" actions: {shares(Counter(r[3] for r in rows))}"
    )
    print(
        f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f};"
        f" CPython {platform.python_version()}, SQLite {sqlite3.sqlite_version}"
    )
    ok, measured = True, 0
    for backend in backends:
        if backend == "postgres":
            try:
                server = server_description(args.pg_url)
            except UNREACHABLE as exc:
                where = redacted(args.pg_url)
                print(f"\n== postgres: skipped, {where} unreachable ({exc!r})")
                continue
            print(f"\npostgres server: {server}")
            result = run_postgres(rows, args)
        else:
            result = run_sqlite(rows, args)
        ok = report(result, args) and ok
        measured += 1
    print(
        f"\ntargets: read consent check p50 <= {TARGET_READ_P50_MS} ms;"
        f" query consent <= {TARGET_QUERY_MS:.0f} ms per 10,000 subjects"
    )
    print(f"load average after the run: {os.getloadavg()[0]:.2f}")
    ok = ok and measured > 0
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

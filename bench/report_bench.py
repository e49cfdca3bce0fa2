"""The monthly self-check report over a month of about a million events (issue #6).

Usage: python bench/report_bench.py [--backends sqlite,postgres] [--month-events 1000000]
       [--baseline-events 900000] [--runs 3] [--pg-url URL]

For each backend, creates the governance store with `open_store()` (SQLite: a
file in a temporary directory; PostgreSQL: a throwaway database
`gov_bench_<random>`, created and dropped here, skipped if the server does not
answer) and bulk-loads a trail of correctly chained events (four chains, so
`verify_trail` walks every one of them): `--month-events` in March 2026 and
`--baseline-events` in the four weeks before (the callers' baseline), with the
mix a proxy writes: reads by ten callers for eight purposes (~90% allowed, the
rest refused for consent, policy or purpose reasons, a few errors), audience
queries releasing 10 subjects each (indexed in `audit_subjects`), consent
events; and a consent ledger of about 120,000 events (20,000 withdrawals, half
of them during the month). Events pick their subjects at random among 200,000,
the ledger's 50,000 among them, so reads fall after withdrawals and the
follow-up joins do real work (and find breaches: the mix is random, not a
proxy's). Then ANALYZE, and per run (median of `--runs`):

  * baseline: `SELECT count(*) FROM audit_events` (one full-table count);
  * figures: `build_report()` without the chain walk (every aggregate query);
  * verify: `verify_trail()` over the whole trail (what the report also runs);
  * report: the whole `build_report()`, as the CLI and the API run it.

Prints seconds and the report's cost in full-table counts; exits 1 if a report
takes a minute or more.
"""

import argparse
import asyncio
import functools
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import closing
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any
from unittest.mock import patch

import asyncpg
import orjson
from _pg import (
    DEFAULT_PG_URL,
    UNREACHABLE,
    connect,
    postgres_database,
    server_description,
)
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from audit.chain import genesis_hash, row_hash
from audit.models import AuditEventRow
from audit.record import canonical_json
from audit.report import build
from audit.report.month import ReportMonth, parse_month, trail_instant
from audit.verify import VerifyReport, verify_trail
from governance.catalog import Catalog, load_catalog
from governance.services import subject_referencer
from governance.store import open_store
from governance.subjects import CHINA_TZ

MONTH = "2026-03"
NOW = datetime(2026, 4, 2, tzinfo=UTC)
TARGET_S = 60.0
CHAINS = 4
SUBJECTS = 200_000
LEDGER_SUBJECTS = 50_000
COLUMNS = tuple(AuditEventRow.model_fields)
SUBJECT_REF = subject_referencer(b"bench-subject-key-0123456789abcd")
CALLERS = [
    ("campaign-sms", "marketing_push"),
    ("push-engine", "marketing_push"),
    ("recommender", "personalised_recommendation"),
    ("care-app", "maternal_care_recommendation"),
    ("coupon-engine", "coupon_targeting"),
    ("partner-gateway", "partner_sharing"),
    ("brand-app", "order_fulfilment"),
    ("service-desk", "customer_service"),
    ("refund-svc", "refund_processing"),
    ("bi-export", "marketing_push"),
]
FIELDS = {
    "marketing_push": ["customer_id", "name", "mobile", "nickname", "email"],
    "personalised_recommendation": ["customer_id", "nickname"],
    "maternal_care_recommendation": ["customer_id", "nickname"],
    "coupon_targeting": ["customer_id", "nickname"],
    "partner_sharing": ["customer_id", "name", "mobile"],
    "order_fulfilment": ["customer_id", "name", "mobile", "address"],
    "customer_service": ["customer_id", "name", "mobile", "email", "service_note"],
    "refund_processing": ["customer_id", "name", "bank_card"],
}
DENIALS = [
    ("consent_withdrawn", ()),
    ("consent_missing", ()),
    ("policy_denied", ("sensitive_field_not_permitted:bank_card",)),
    ("policy_denied", ("sensitive_tag_not_permitted:孕期",)),
    ("purpose_not_permitted", ()),
]


def instants(
    count: int, start: datetime, end: datetime, rng: random.Random
) -> list[str]:
    """`count` sorted random instants in [start, end), busier in Beijing daytime."""
    span = (end - start).total_seconds()
    out: list[str] = []
    while len(out) < count:
        offset = rng.random() * span
        hour = (start + timedelta(seconds=offset)).astimezone(CHINA_TZ).hour
        if 8 <= hour < 22 or rng.random() < 0.2:
            out.append(trail_instant(start + timedelta(seconds=offset)))
    return sorted(out)


def event(ts: str, rng: random.Random, refs: list[str]) -> dict[str, Any]:
    """One event's columns (without chain position), drawn from the proxy's mix."""
    caller, purpose = CALLERS[min(int(rng.expovariate(0.45)), len(CALLERS) - 1)]
    roll = rng.random()
    if roll < 0.01:
        kind = "consent.granted" if roll < 0.006 else "consent.withdrawn"
        return _row(rng, ts, kind, "brand-app", purpose, rng.choice(refs), "allowed")
    if roll < 0.05:
        released = rng.sample(refs, 10)
        row = _row(rng, ts, "access.query", caller, purpose, None, "allowed", "rev-b")
        detail = {"tags": ["高消费"], "excluded": {}, "subject_refs": released}
        return row | {"detail": canonical_json(detail)}
    outcome = "allowed" if roll < 0.90 else ("error" if roll < 0.91 else "denied")
    reason, reasons = rng.choice(DENIALS) if outcome == "denied" else (None, ())
    if outcome == "error":
        reason = "dependency_unavailable"
    revision = "rev-b" if reason in (None, "policy_denied") else None
    row = _row(
        rng, ts, "access.read", caller, purpose, rng.choice(refs), outcome, revision
    )
    return row | {"reason": reason, "detail": _detail(reasons)}


@functools.cache
def _texts(kind: str, purpose: str, outcome: str) -> tuple[str, str]:
    """The fields and obligations JSON of an event (few distinct ones: built once)."""
    names = FIELDS[purpose] if kind.startswith("access.") else []
    obligations = {f: "mask" if f in ("name", "bank_card") else "keep" for f in names}
    return canonical_json(names), canonical_json(
        obligations if outcome == "allowed" else {}
    )


@functools.cache
def _detail(reasons: tuple[str, ...]) -> str:
    return canonical_json({"reasons": list(reasons)} if reasons else {})


def _row(
    rng: random.Random,
    ts: str,
    kind: str,
    caller: str,
    purpose: str,
    subject_ref: str | None,
    outcome: str,
    revision: str | None = None,
) -> dict[str, Any]:
    fields, obligations = _texts(kind, purpose, outcome)
    return {
        "event_id": f"{rng.getrandbits(128):032x}",
        "ts": ts,
        "kind": kind,
        "caller": caller,
        "purpose": purpose,
        "dataset": "customers" if kind.startswith("access.") else None,
        "subject_ref": subject_ref,
        "fields": fields,
        "obligations": obligations,
        "outcome": outcome,
        "reason": None,
        "decision_id": f"{rng.getrandbits(128):032x}",
        "policy_revision": revision,
        "decision_shape": None,
        "detail": "{}",
    }


def trail(
    month: ReportMonth,
    in_month: int,
    baseline: int,
    seed: int,
    ref: Callable[[str], str],
) -> Iterator[dict[str, Any]]:
    """Chained rows of the baseline weeks then the month, dealt round-robin to chains."""
    rng = random.Random(seed)
    refs = [ref(f"C{n:07d}") for n in range(SUBJECTS)]
    heads = {f"{n:032x}": (0, genesis_hash(f"{n:032x}")) for n in range(CHAINS)}
    chains = list(heads)
    stamps = instants(baseline, month.baseline_start, month.start, rng)
    stamps += instants(in_month, month.start, month.end, rng)
    for n, ts in enumerate(stamps):
        chain = chains[n % CHAINS]
        seq, prev = heads[chain]
        row = event(ts, rng, refs) | {
            "chain_id": chain,
            "seq": seq + 1,
            "prev_hash": prev,
        }
        row["hash"] = row_hash(row)
        heads[chain] = (seq + 1, row["hash"])
        yield row
    for chain, (seq, head) in heads.items():
        yield {"chain": chain, "head_seq": seq, "head_hash": head}


def ledger(month: ReportMonth, seed: int) -> list[tuple[Any, ...]]:
    """Consent ledger rows: grants, and 20,000 withdrawals (half during the month)."""
    rng = random.Random(seed + 1)
    rows = []
    for n in range(LEDGER_SUBJECTS):
        subject = f"C{n:07d}"
        granted = month.baseline_start - timedelta(days=rng.randint(1, 300))
        for purpose in ("marketing_push", "personalised_recommendation"):
            rows.append((subject, purpose, "granted", granted))
            if rng.random() < 0.2:
                start = month.start if rng.random() < 0.5 else month.baseline_start
                at = start + timedelta(seconds=rng.random() * 20 * 86400)
                rows.append((subject, purpose, "withdrawn", at))
    return [
        (
            str(uuid.uuid4()),
            subject,
            purpose,
            action,
            "2026.01",
            "click",
            "app",
            "[]",
            "general",
            "self",
            at.astimezone(UTC),
            "bench",
        )
        for subject, purpose, action, at in rows
    ]


LEDGER_COLUMNS = (
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
    "recorded_at",
    "recorded_by",
)


def subject_rows(row: dict[str, Any]) -> list[tuple[Any, ...]]:
    """The `audit_subjects` rows of a query event."""
    if row["kind"] != "access.query":
        return []
    refs = orjson.loads(row["detail"])["subject_refs"]
    return [(r, row["ts"], row["chain_id"], row["seq"]) for r in refs]


def load_sqlite(
    db: Path, rows: Iterator[dict[str, Any]], consents: list[tuple[Any, ...]]
) -> int:
    """Bulk-load with sqlite3 (one transaction); return the event count."""
    insert = (
        f"INSERT INTO audit_events ({', '.join(COLUMNS)})"  # noqa: S608 - constants only
        f" VALUES ({', '.join('?' * len(COLUMNS))})"
    )
    count = 0
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("PRAGMA synchronous=OFF")
        batch: list[tuple[Any, ...]] = []
        subjects: list[tuple[Any, ...]] = []
        for row in rows:
            if "chain" in row:
                conn.execute(
                    "INSERT INTO audit_chains VALUES (?, 'bench', ?, ?, ?)",
                    (
                        row["chain"],
                        trail_instant(NOW),
                        row["head_seq"],
                        row["head_hash"],
                    ),
                )
                continue
            batch.append(tuple(row[c] for c in COLUMNS))
            subjects += subject_rows(row)
            count += 1
            if len(batch) >= 50_000:
                conn.executemany(insert, batch)
                conn.executemany(
                    "INSERT INTO audit_subjects VALUES (?, ?, ?, ?)", subjects
                )
                batch, subjects = [], []
        conn.executemany(insert, batch)
        conn.executemany("INSERT INTO audit_subjects VALUES (?, ?, ?, ?)", subjects)
        conn.executemany(
            f"INSERT INTO consent_events ({', '.join(LEDGER_COLUMNS)}) VALUES"  # noqa: S608
            f" ({', '.join('?' * len(LEDGER_COLUMNS))})",
            [
                (*c[:10], c[10].strftime("%Y-%m-%d %H:%M:%S.%f"), c[11])
                for c in consents
            ],
        )
        conn.commit()
        conn.execute("ANALYZE")
    return count


async def load_postgres(
    url: str, rows: Iterator[dict[str, Any]], consents: list[tuple[Any, ...]]
) -> int:
    """Bulk-load with asyncpg COPY; return the event count."""
    conn = await connect(url)
    count = 0
    try:
        batch: list[tuple[Any, ...]] = []
        subjects: list[tuple[Any, ...]] = []
        for row in rows:
            if "chain" in row:
                await conn.execute(
                    "INSERT INTO audit_chains VALUES ($1, 'bench', $2, $3, $4)",
                    row["chain"],
                    trail_instant(NOW),
                    row["head_seq"],
                    row["head_hash"],
                )
                continue
            batch.append(tuple(row[c] for c in COLUMNS))
            subjects += subject_rows(row)
            count += 1
            if len(batch) >= 50_000:
                await _copy(conn, batch, subjects)
                batch, subjects = [], []
        await _copy(conn, batch, subjects)
        await conn.copy_records_to_table(
            "consent_events", records=consents, columns=LEDGER_COLUMNS
        )
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()
    return count


async def _copy(
    conn: asyncpg.Connection,
    batch: list[tuple[Any, ...]],
    subjects: list[tuple[Any, ...]],
) -> None:
    await conn.copy_records_to_table("audit_events", records=batch, columns=COLUMNS)
    await conn.copy_records_to_table(
        "audit_subjects",
        records=subjects,
        columns=("subject_ref", "ts", "chain_id", "seq"),
    )


async def timed(work: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    """Seconds `work` took, and what it returned."""
    start = time.perf_counter()
    result = await work()
    return time.perf_counter() - start, result


async def no_chain_walk(
    _store: AsyncEngine,
    public_keys: Sequence[str] | None = None,  # noqa: ARG001 - verify_trail's signature
) -> VerifyReport:
    """Stands in for `verify_trail` when timing the aggregates alone."""
    return VerifyReport(ok=True, events=0, chains=0, first_bad=None)


async def measure(url: str, catalog: Catalog, runs: int) -> dict[str, float]:
    """Median seconds of each measurement over `runs` runs on the store at `url`."""
    store = await open_store(url)
    month = parse_month(MONTH, now=NOW)
    ref = SUBJECT_REF
    times: dict[str, list[float]] = {
        "baseline": [],
        "figures": [],
        "verify": [],
        "report": [],
    }
    try:
        for _ in range(runs):
            async with store.connect() as conn:
                elapsed, _ = await timed(lambda: _count(conn))
            times["baseline"].append(elapsed)
            with patch.object(build, "verify_trail", no_chain_walk):
                times["figures"].append(
                    (
                        await timed(
                            lambda: build.build_report(store, catalog, month, ref)
                        )
                    )[0]
                )
            elapsed, report = await timed(lambda: verify_trail(store))
            assert report.ok, report.first_bad  # noqa: S101 - the loaded trail is intact
            times["verify"].append(elapsed)
            elapsed, built = await timed(
                lambda: build.build_report(store, catalog, month, ref)
            )
            assert built.chain.ok  # noqa: S101
            times["report"].append(elapsed)
        a, c = built.accesses, built.consent
        print(
            f"  report: {a.total.total:,} accesses, {a.subjects:,} subjects,"
            f" {c.latency.withdrawals:,} withdrawals, {c.violations:,} allowed after"
            f" withdrawal, {len(built.anomalies.flags)} volume flags"
        )
    finally:
        await store.dispose()
    return {k: statistics.median(v) for k, v in times.items()}


async def _count(conn: Any) -> int:
    return int(
        (await conn.execute(text("SELECT count(*) FROM audit_events"))).scalar_one()
    )


def run_backend(
    name: str, args: argparse.Namespace, catalog: Catalog
) -> dict[str, float] | None:
    """Load and measure one backend; None when it is not available."""
    month = parse_month(MONTH, now=NOW)
    consents = ledger(month, args.seed)
    rows = trail(month, args.month_events, args.baseline_events, args.seed, SUBJECT_REF)
    if name == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite+aiosqlite:///{tmp}/governance.db"
            asyncio.run(_create(url))
            start = time.perf_counter()
            count = load_sqlite(Path(tmp) / "governance.db", rows, consents)
            print(
                f"sqlite: loaded {count:,} events in {time.perf_counter() - start:.0f} s"
            )
            return asyncio.run(measure(url, catalog, args.runs))
    try:
        server_description(args.pg_url)
    except UNREACHABLE as exc:
        print(f"postgres: skipped ({type(exc).__name__}: {exc})")
        return None
    with postgres_database(args.pg_url) as url:
        asyncio.run(_create(url))
        start = time.perf_counter()
        count = asyncio.run(load_postgres(url, rows, consents))
        print(
            f"postgres: loaded {count:,} events in {time.perf_counter() - start:.0f} s"
        )
        return asyncio.run(measure(url, catalog, args.runs))


async def _create(url: str) -> None:
    store = await open_store(url)
    await store.dispose()


def main() -> int:
    """Run the benchmark; exit 1 if a report took a minute or more."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--month-events", type=int, default=1_000_000)
    parser.add_argument("--baseline-events", type=int, default=900_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    args = parser.parse_args()
    catalog = load_catalog(
        Path(str(resources.files("governance.demo") / "catalog.yaml"))
    )
    print(
        f"python {platform.python_version()}, {platform.machine()}; month {MONTH}:"
        f" {args.month_events:,} events, baseline weeks {args.baseline_events:,}"
    )
    results = {}
    for name in args.backends.split(","):
        found = run_backend(name, args, catalog)
        if found is not None:
            results[name] = found
    heads = ("full count s", "figures s", "verify s", "report s", "report/count")
    print(f"\n{'backend':<10}" + "".join(f" {h:>13}" for h in heads))
    failed = False
    for name, t in results.items():
        ratio = t["report"] / t["baseline"] if t["baseline"] else float("inf")
        cells = [f"{t[k]:.2f}" for k in ("baseline", "figures", "verify", "report")]
        print(f"{name:<10}" + "".join(f" {c:>13}" for c in [*cells, f"{ratio:.0f}x"]))
        failed |= t["report"] >= TARGET_S
    print(
        f"\ntarget: a report in well under {TARGET_S:.0f} s -> {'FAIL' if failed else 'PASS'}"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

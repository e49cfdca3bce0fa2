"""Signed checkpoints over one million audit events: verify, prove, seal (issue #6).

Usage: python bench/audit_proof_bench.py [--backends sqlite,postgres]
       [--events 1000000] [--chains 4] [--proofs 300] [--pg-url URL]

For each backend, creates the governance store with `open_store()` (SQLite: a
file in a temporary directory; PostgreSQL: a throwaway database
`gov_bench_<random>`, created and dropped here, skipped if the server does not
answer) and bulk-loads `--events` audit events spread over `--chains` chains,
interleaved in time: real `AuditDraft`s placed with `audit.chain.link`, as the
writers store them, with each chain's head (sqlite3 executemany, asyncpg COPY).
Then measures:

  * baseline: one plain pass over the same rows, every column of every event
    read and SHA-256 hashed: the least any verification has to do;
  * seal: sealing every event into signed checkpoints (`audit.seal.seal`, up to
    `MAX_LEAVES` a checkpoint): the one-off cost of sealing an existing trail;
  * verify: `verify_trail` with the public key (every chain, every checkpoint's
    signature, the tree of every sealed event): target <= 60 s;
  * inclusion: `inclusion_proof` (what `GET /v1/audit/proofs/inclusion` does) for
    `--proofs` random events, p50 and p99: target <= 10 ms; and their offline
    check (`check_proof`, what an auditor runs);
  * consistency: the proof from the first checkpoint to the latest;
  * increment: sealing 1,000 new events on top (what the periodic seal does).

Prints a table per backend against the targets and PASS/FAIL; exits 1 on FAIL.
"""

import argparse
import asyncio
import hashlib
import os
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
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

from audit.chain import genesis_hash, link
from audit.models import AuditEventRow
from audit.proof import consistency_proof, inclusion_proof
from audit.proof_check import check_proof
from audit.record import AuditDraft
from audit.seal import seal
from audit.signing import AuditSigner
from audit.verify import verify_trail
from audit.writer import AuditWriter
from governance.store import open_store

TARGET_VERIFY_S = 60.0
TARGET_PROOF_MS = 10.0
START = datetime(2026, 11, 1, tzinfo=UTC)
BATCH = 50_000
INCREMENT = 1_000
SEED = 2026
SIGNER = AuditSigner(hashlib.sha256(b"bench audit signing").digest(), "v1")
COLUMNS = tuple(AuditEventRow.model_fields)
FIELDS = ("customer_id", "name", "mobile", "email")
OBLIGATIONS = {"customer_id": "keep", "name": "mask", "mobile": "keep", "email": "mask"}


@dataclass
class Result:
    """What one backend measured."""

    backend: str
    load_s: float = 0.0
    baseline_s: float = 0.0
    seal_s: float = 0.0
    checkpoints: int = 0
    verify_s: float = 0.0
    verified: bool = False
    proof_ms: list[float] = field(default_factory=list)
    check_ms: list[float] = field(default_factory=list)
    consistency_ms: float = 0.0
    increment_ms: float = 0.0


def chain_id(chain: int) -> str:
    """The id of bench chain `chain`."""
    return f"{chain:032x}"


def event_id(chain: int, seq: int) -> str:
    """The event id of (chain, seq): known without storing a million ids."""
    return str(uuid.UUID(int=(chain + 1) << 64 | seq))


def generate(events: int, chains: int) -> Iterator[list[tuple[Any, ...]]]:
    """Rows of `events` audit events, round-robin over `chains`, in batches."""
    heads = [genesis_hash(chain_id(c)) for c in range(chains)]
    batch: list[tuple[Any, ...]] = []
    for n in range(events):
        chain, seq = n % chains, n // chains + 1
        draft = AuditDraft(
            kind="access.read",
            outcome="allowed" if n % 7 else "denied",
            caller="campaign-sms",
            purpose="marketing_push",
            dataset="customers",
            subject_ref=f"s_{hashlib.md5(str(n).encode()).hexdigest()}",  # noqa: S324 - ids
            fields=FIELDS,
            obligations=OBLIGATIONS,
            decision_id=event_id(chain + chains, seq),
            policy_revision="sha256:" + "b" * 64,
            detail={"recipient": None, "approval_ref": None},
            ts=(START + timedelta(milliseconds=n)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            event_id=event_id(chain, seq),
        )
        row = link(draft, chain_id=chain_id(chain), seq=seq, prev_hash=heads[chain])
        heads[chain] = row["hash"]
        batch.append(tuple(row[c] for c in COLUMNS))
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def head_rows(events: int, chains: int, last: dict[str, str]) -> list[tuple[Any, ...]]:
    """The `audit_chains` rows of the generated chains."""
    return [
        (
            chain_id(c),
            "bench",
            START.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            (events - c + chains - 1) // chains,
            last[chain_id(c)],
        )
        for c in range(chains)
    ]


def load_sqlite(path: Path, events: int, chains: int) -> None:
    """Bulk-load the generated events and chain heads into the SQLite store."""
    marks = ", ".join("?" * len(COLUMNS))
    last: dict[str, str] = {}
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA synchronous=OFF")  # loading, not what is measured
        for batch in generate(events, chains):
            conn.executemany(
                f"INSERT INTO audit_events ({', '.join(COLUMNS)}) VALUES ({marks})",  # noqa: S608
                batch,
            )
            last |= {r[0]: r[-1] for r in batch}
        conn.executemany(
            "INSERT INTO audit_chains VALUES (?, ?, ?, ?, ?)",
            head_rows(events, chains, last),
        )
        conn.commit()
        conn.execute("ANALYZE")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


async def load_postgres(url: str, events: int, chains: int) -> None:
    """Bulk-load the generated events and chain heads with COPY."""
    conn = await connect(url)
    last: dict[str, str] = {}
    try:
        for batch in generate(events, chains):
            await conn.copy_records_to_table(
                "audit_events", records=batch, columns=COLUMNS
            )
            last |= {r[0]: r[-1] for r in batch}
        await conn.copy_records_to_table(
            "audit_chains", records=head_rows(events, chains, last)
        )
        await conn.execute("VACUUM ANALYZE audit_events")
    finally:
        await conn.close()


def baseline_sqlite(path: Path) -> None:
    """Read every event and hash its columns: the floor of any verification."""
    with closing(sqlite3.connect(path)) as conn:
        for row in conn.execute("SELECT * FROM audit_events ORDER BY chain_id, seq"):
            hashlib.sha256("\x00".join(map(str, row)).encode()).digest()


async def baseline_postgres(url: str) -> None:
    """Read every event and hash its columns: the floor of any verification."""
    conn = await connect(url)
    try:
        async with conn.transaction():
            query = "SELECT * FROM audit_events ORDER BY chain_id, seq"
            async for row in conn.cursor(query, prefetch=5000):
                hashlib.sha256("\x00".join(map(str, row)).encode()).digest()
    finally:
        await conn.close()


async def measure(store: AsyncEngine, args: argparse.Namespace, result: Result) -> None:
    """Seal, verify and prove over a loaded store."""
    t = time.perf_counter()
    while (await seal(store, SIGNER)).document is not None:
        result.checkpoints += 1
    result.seal_s = time.perf_counter() - t

    t = time.perf_counter()
    report = await verify_trail(store, public_keys=[SIGNER.public_pem()])
    result.verify_s = time.perf_counter() - t
    result.verified = report.ok and report.sealed == args.events

    rng = random.Random(SEED)
    per_chain = args.events // args.chains
    for _ in range(args.proofs):
        target = event_id(rng.randrange(args.chains), rng.randint(1, per_chain))
        t = time.perf_counter()
        proof = await inclusion_proof(store, target)
        result.proof_ms.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        ok = check_proof(proof, [SIGNER.public_pem()]).ok
        result.check_ms.append((time.perf_counter() - t) * 1000)
        result.verified = result.verified and ok

    t = time.perf_counter()
    first = await seal_sizes(store)
    proof = await consistency_proof(store, first)
    result.consistency_ms = (time.perf_counter() - t) * 1000
    result.verified = result.verified and check_proof(proof, [SIGNER.public_pem()]).ok

    await more_events(store)
    t = time.perf_counter()
    await seal(store, SIGNER)
    result.increment_ms = (time.perf_counter() - t) * 1000


async def seal_sizes(store: AsyncEngine) -> int:
    """The tree size of the first checkpoint."""
    async with store.connect() as conn:
        size = await conn.exec_driver_sql(
            "SELECT tree_size FROM audit_checkpoints WHERE number = 1"
        )
        return int(size.scalar_one())


async def more_events(store: AsyncEngine) -> None:
    """INCREMENT more events through a real writer."""
    writer = AuditWriter(store)
    await writer.start()
    try:
        await writer.append_all(
            [
                AuditDraft(kind="access.read", outcome="allowed", detail={"n": n})
                for n in range(INCREMENT)
            ]
        )
    finally:
        await writer.stop()


def run_sqlite(args: argparse.Namespace) -> Result:
    """Load, baseline and measure on a fresh SQLite store."""
    result = Result("sqlite")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "governance.db"
        url = f"sqlite+aiosqlite:///{path}"

        async def create() -> None:
            await (await open_store(url)).dispose()

        asyncio.run(create())
        result.load_s = timed(lambda: load_sqlite(path, args.events, args.chains))
        result.baseline_s = timed(lambda: baseline_sqlite(path))
        asyncio.run(on_store(url, args, result))
    return result


def run_postgres(args: argparse.Namespace) -> Result:
    """Load, baseline and measure on a throwaway PostgreSQL database."""
    result = Result("postgres")
    with postgres_database(args.pg_url) as url:

        async def create() -> None:
            await (await open_store(url)).dispose()

        asyncio.run(create())
        result.load_s = timed(
            lambda: asyncio.run(load_postgres(url, args.events, args.chains))
        )
        result.baseline_s = timed(lambda: asyncio.run(baseline_postgres(url)))
        asyncio.run(on_store(url, args, result))
    return result


async def on_store(url: str, args: argparse.Namespace, result: Result) -> None:
    """Open the store, measure, close it."""
    store = await open_store(url)
    try:
        await measure(store, args, result)
    finally:
        await store.dispose()


def timed(work: Callable[[], Any]) -> float:
    """Seconds `work()` took."""
    t = time.perf_counter()
    work()
    return time.perf_counter() - t


def pct(samples: list[float], p: float) -> float:
    """The p-th percentile of `samples` (nearest rank)."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def report(result: Result, args: argparse.Namespace) -> bool:
    """Print one backend's table; whether it met the targets."""
    verify_ok = result.verify_s <= TARGET_VERIFY_S and result.verified
    proof_p50 = statistics.median(result.proof_ms)
    proof_ok = proof_p50 <= TARGET_PROOF_MS
    per_event_us = result.verify_s / args.events * 1e6
    print(f"\n== {result.backend}: {args.events:,} events in {args.chains} chains")
    print(
        f"  load (bulk insert, not measured against a target): {result.load_s:6.1f} s"
    )
    print(
        f"  baseline: read + SHA-256 every row        {result.baseline_s:6.1f} s"
        f"   ({result.baseline_s / args.events * 1e6:.1f} µs/event)"
    )
    print(
        f"  seal all into {result.checkpoints} checkpoints           "
        f"{result.seal_s:6.1f} s   ({result.seal_s / args.events * 1e6:.1f} µs/event)"
    )
    print(
        f"  verify_trail with the public key         {result.verify_s:6.1f} s"
        f"   ({per_event_us:.1f} µs/event, {result.verify_s / result.baseline_s:.1f}x"
        f" baseline)   target <= {TARGET_VERIFY_S:.0f} s:"
        f" {'PASS' if verify_ok else 'FAIL'}"
    )
    print(
        f"  inclusion proof ({len(result.proof_ms)} random events)  p50"
        f" {proof_p50:5.2f} ms, p99 {pct(result.proof_ms, 99):5.2f} ms"
        f"   target p50 <= {TARGET_PROOF_MS:.0f} ms: {'PASS' if proof_ok else 'FAIL'}"
    )
    print(
        f"  offline check of a proof                 p50"
        f" {statistics.median(result.check_ms):5.2f} ms"
    )
    print(f"  consistency proof, first to latest       {result.consistency_ms:6.2f} ms")
    print(
        f"  seal {INCREMENT:,} new events                   {result.increment_ms:6.1f} ms"
    )
    print(f"  every proof and the trail verified: {result.verified}")
    return verify_ok and proof_ok


def main() -> int:
    """Run the bench on each backend; exit 1 unless every target is met."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--proofs", type=int, default=300)
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL, help="server to administer")
    args = parser.parse_args()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if unknown := set(backends) - {"sqlite", "postgres"}:
        parser.error(f"unknown backends: {', '.join(sorted(unknown))}")
    print(
        f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f};"
        f" CPython {platform.python_version()}, SQLite {sqlite3.sqlite_version};"
        f" {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )
    ok, measured = True, 0
    for backend in backends:
        if backend == "postgres":
            try:
                server_description(args.pg_url)
            except UNREACHABLE as exc:
                where = redacted(args.pg_url)
                print(f"\n== postgres: skipped, {where} unreachable ({exc!r})")
                continue
            result = run_postgres(args)
        else:
            result = run_sqlite(args)
        ok = report(result, args) and ok
        measured += 1
    print(f"\nload average after the run: {os.getloadavg()[0]:.2f}")
    ok = ok and measured > 0
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""Governed single-record reads over HTTP vs a direct SQL read of the same records.

Usage: python bench/read_bench.py [--customers 10000] [--seconds 10] [--concurrency 16]

Builds (or reuses) a demo deployment, starts one proxy worker (uvicorn, as
`govproxy serve` does), and measures in the same run:
  * direct SQL: the same rows read by key with sqlite3 in process, no HTTP, no
    governance: the floor;
  * governed reads: GET /v1/datasets/customers/records/{id} for marketing_push
    over keep-alive HTTP/1.1, sequentially (latency) and with N connections
    (throughput).
Every governed read is authenticated, consent-checked, decided, fetched, masked
and durably audited (group commit, SQLite synchronous=FULL).
Prints reads/s and p50/p99 of each and the latency governance adds at p50.
"""

import argparse
import asyncio
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

from _demo import consented_adults, free_port, wait_ready

from governance.demo.setup import prepare_demo

TARGET_RPS, TARGET_ADDED_MS = 300, 3.0


def pct(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000


def direct_sql(db: Path, ids: list[str], seconds: float) -> tuple[float, list[float]]:
    """Read the same rows by key with sqlite3 in process, no HTTP: the floor."""
    cols = "customer_id, name, nickname, mobile, email"
    sql = f"SELECT {cols} FROM customers WHERE customer_id = ?"  # noqa: S608 - constant
    lat: list[float] = []
    with closing(sqlite3.connect(db)) as conn:
        start = time.perf_counter()
        end = start + seconds
        while time.perf_counter() < end:
            t = time.perf_counter()
            conn.execute(sql, (random.choice(ids),)).fetchone()
            lat.append(time.perf_counter() - t)
        return len(lat) / (time.perf_counter() - start), lat


async def http_client(
    port: int,
    key: str,
    ids: list[str],
    end: float,
    lat: list[float],
    statuses: dict[int, int],
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < end:
            path = f"/v1/datasets/customers/records/{random.choice(ids)}"
            request = (
                f"GET {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {key}\r\n"
                "X-Purpose: marketing_push\r\n\r\n"
            )
            t = time.perf_counter()
            writer.write(request.encode())
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = next(
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            )
            await reader.readexactly(length)
            lat.append(time.perf_counter() - t)
            statuses[status] = statuses.get(status, 0) + 1
    finally:
        writer.close()


async def governed(
    port: int, key: str, ids: list[str], seconds: float, concurrency: int
) -> tuple[float, list[float], dict[int, int]]:
    lat: list[float] = []
    statuses: dict[int, int] = {}
    start = time.perf_counter()
    end = start + seconds
    await asyncio.gather(
        *[http_client(port, key, ids, end, lat, statuses) for _ in range(concurrency)]
    )
    return len(lat) / (time.perf_counter() - start), lat, statuses


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--data-dir", type=Path)
    args = parser.parse_args()
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="govbench-"))
    port = free_port()
    deployment = prepare_demo(
        data_dir, seed=2026, customers=args.customers, port=port, host="127.0.0.1"
    )
    key = next(c["key"] for c in deployment.credentials if c["name"] == "campaign-sms")
    ids = consented_adults(data_dir)
    env = os.environ | {"GOV_LOG_FORMAT": "json"}
    proxy = subprocess.Popen(  # noqa: S603 - our own CLI
        [
            sys.executable,
            "-m",
            "governance",
            "--config",
            str(data_dir / "govproxy.yaml"),
            "serve",
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_ready(port)
        asyncio.run(governed(port, key, ids, 1.0, 4))  # warm-up: caches, connections
        sql_rps, sql_lat = direct_sql(data_dir / "customers.db", ids, args.seconds)
        seq_rps, seq_lat, seq_st = asyncio.run(
            governed(port, key, ids, args.seconds, 1)
        )
        par_rps, par_lat, par_st = asyncio.run(
            governed(port, key, ids, args.seconds, args.concurrency)
        )
    finally:
        proxy.terminate()
        proxy.wait(10)
    added = pct(seq_lat, 0.5) - pct(sql_lat, 0.5)
    rows = [
        ("direct SQL (sqlite3, by key)", sql_rps, sql_lat, {}),
        ("governed HTTP, 1 connection", seq_rps, seq_lat, seq_st),
        (f"governed HTTP, {args.concurrency} connections", par_rps, par_lat, par_st),
    ]
    print(
        f"{len(ids)} consented adult subjects of {args.customers}; {args.seconds:.0f} s per run"
    )
    print(f"{'mode':40} {'reads/s':>9} {'p50 ms':>8} {'p99 ms':>8}  statuses")
    for name, rps, lat, st in rows:
        print(
            f"{name:40} {rps:9.0f} {pct(lat, 0.5):8.3f} {pct(lat, 0.99):8.3f}  {json.dumps(st)}"
        )
    print(
        f"added by governance at p50 (1 connection): {added:.2f} ms (target <= {TARGET_ADDED_MS})"
    )
    print(f"governed throughput: {par_rps:.0f}/s (target >= {TARGET_RPS})")
    ok = par_rps >= TARGET_RPS and added <= TARGET_ADDED_MS and set(par_st) == {200}
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""Consent import from CSV: rows/s of checking and of committing a 100,000-row file.

Usage: python bench/import_bench.py [--customers 26000] [--rows 100000]
                                    [--seed 2026] [--dir DIR] [--repeat 3]

Builds (or reuses, with --dir) a demo deployment, writes a valid CSV of up to
four consents per customer, one per consent purpose (minors by guardians;
marketing with a frequency; a fifth with a two-year expiry, half with an
evidence hash; subject and purpose pairs the demo ledger shows withdrawn are
left out, since an import never undoes a later withdrawal; pairs with a live
grant are kept and superseded), and imports it:
  * in process, timing the check (read, decode, validate every row, subject
    and ledger lookups) and the commit (consent rows, one audit event per row,
    the summary event, one transaction with fsync) separately;
  * the baseline: the rows that import stored (ledger events, projection,
    audit chain) inserted again into a fresh copy through sqlite3 alone, one
    transaction, the same pragmas: the store's own share, which tells a slow
    machine from slow code;
  * end to end as `govproxy consent import FILE` (`main()` in this process:
    no interpreter start-up), `--repeat` times, each on a fresh copy.
Prints rows/s, each run against the baseline, and PASS/FAIL for the median
end-to-end run against 20,000 rows/s.

26,000 customers, not 100,000: the demo generator stalls somewhere between
25,000 and 30,000 customers (its unique e-mail draw runs out of Faker user
names), so the file covers several purposes per customer instead.
"""

import argparse
import asyncio
import contextlib
import io
import random
import shutil
import sqlite3
import statistics
import tempfile
import time
from contextlib import closing
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from adapters.keys.local import LocalKeyProvider
from adapters.sql.engine import create_engine
from audit.verify import verify_trail
from governance.catalog import load_catalog
from governance.cli.consent_import import bulk_work
from governance.cli.main import main
from governance.consent import importer
from governance.consent.csvfile import COLUMNS
from governance.demo.setup import MINOR_BORN_AFTER, prepare_demo
from governance.services import subject_referencer
from governance.settings import load_settings
from governance.store import open_store

TARGET = 20_000
PURPOSES = (
    "marketing_push",
    "personalised_recommendation",
    "analytics",
    "maternal_care_recommendation",
)
CHANNELS = ("app", "mini_program", "web", "h5", "store", "wecom")
METHODS = ("click", "checkbox", "signature", "sms_reply")
CST = timezone(timedelta(hours=8))


def write_csv(demo: Path, path: Path, rows: int, seed: int) -> int:
    """A valid import file of up to `rows` consents; returns how many it holds."""
    rng = random.Random(seed)
    with closing(sqlite3.connect(demo / "governance.db")) as conn:
        withdrawn = set(
            conn.execute(
                "SELECT subject_id, purpose FROM consent_events"
                " WHERE action = 'withdrawn'"
            ).fetchall()
        )
    with closing(sqlite3.connect(demo / "customers.db")) as conn:
        people = conn.execute(
            "SELECT customer_id, birth_date FROM customers ORDER BY 1"
        ).fetchall()
    start = datetime(2026, 1, 2, tzinfo=CST)
    out, n = io.StringIO(), 0
    out.write(",".join(COLUMNS) + "\n")
    for subject, birth in people:
        for purpose in PURPOSES:
            if n == rows:
                break
            if (subject, purpose) in withdrawn:
                continue
            out.write(",".join(_row(rng, subject, purpose, birth, start)) + "\n")
            n += 1
    path.write_text(out.getvalue(), encoding="utf-8")
    return n


def _row(
    rng: random.Random, subject: str, purpose: str, birth: str, start: datetime
) -> tuple[str, ...]:
    minor = birth > MINOR_BORN_AFTER
    kind = "separate" if purpose == "maternal_care_recommendation" else "general"
    granted = start + timedelta(seconds=rng.randrange(300 * 86400))
    expires = granted + timedelta(days=730) if rng.random() < 0.2 else None
    return (
        subject,
        purpose,
        "2026.01",
        rng.choice(METHODS),
        rng.choice(CHANNELS),
        granted.isoformat(),
        "guardian" if minor else kind,
        "guardian" if minor else "self",
        "",
        expires.isoformat() if expires else "",
        "4/month" if purpose == "marketing_push" else "",
        f"{rng.getrandbits(256):064x}" if rng.random() < 0.5 else "",
    )


def fresh_copy(template: Path, scratch: Path, name: str) -> Path:
    target = scratch / name
    shutil.copytree(template, target)
    return target


async def in_process(demo: Path, csv_file: Path) -> tuple[float, float, int, bool]:
    """Seconds to check and to commit; superseded grants; whether the trail verifies."""
    settings = load_settings(demo / "govproxy.yaml")
    catalog = load_catalog(settings.catalog_file)
    store = await open_store(settings.store_url)
    sources = {n: create_engine(u) for n, u in catalog.sources.items()}
    ref = subject_referencer(LocalKeyProvider(settings.keys_file).key("subject_ref")[1])
    try:
        t0 = time.perf_counter()
        plan = await importer.check_file(
            csv_file,
            catalog=catalog,
            store=store,
            sources=sources,
            encoding="auto",
            now=datetime.now(UTC),
        )
        t1 = time.perf_counter()
        assert plan.ok, plan.problems[:5]  # noqa: S101 - the generated file is valid
        await importer.commit(plan, store, ref)
        t2 = time.perf_counter()
        ok = (await verify_trail(store)).ok
    finally:
        for engine in sources.values():
            await engine.dispose()
        await store.dispose()
    return t1 - t0, t2 - t1, len(plan.supersedes), ok


def driver_floor(imported: Path, target: Path) -> tuple[float, int]:
    """Seconds to store, through sqlite3 alone, the rows an import stored in
    `imported` (new ledger events, their projection, the new audit chain) into
    `target` (a fresh copy of the same deployment), in one transaction with
    the same pragmas: the store's own cost, the baseline of this run. Also the
    number of rows."""
    with closing(sqlite3.connect(target / "governance.db")) as conn:
        conn.execute("ATTACH ? AS done", (str(imported / "governance.db"),))
        last = conn.execute("SELECT max(id) FROM consent_events").fetchone()[0]
        tables = {
            "consent_events": conn.execute(
                "SELECT * FROM done.consent_events WHERE id > ?", (last,)
            ).fetchall(),
            "consent_current": conn.execute(
                "SELECT * FROM done.consent_current WHERE ledger_id > ?", (last,)
            ).fetchall(),
            "audit_events": conn.execute(
                "SELECT * FROM done.audit_events WHERE chain_id NOT IN"
                " (SELECT chain_id FROM main.audit_events)"
            ).fetchall(),
        }
        conn.execute("DETACH done")
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "cache_size=-32768"):
            conn.execute(f"PRAGMA {pragma}")
        t0 = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("DROP TRIGGER consent_current_follows")  # as the import does
        for table, rows in tables.items():
            marks = ", ".join("?" * len(rows[0]))
            verb = "INSERT OR REPLACE" if table == "consent_current" else "INSERT"
            conn.executemany(f"{verb} INTO {table} VALUES ({marks})", rows)
        conn.execute("COMMIT")
        return time.perf_counter() - t0, sum(map(len, tables.values()))


def end_to_end(demo: Path, csv_file: Path) -> tuple[float, str]:
    """Seconds of `govproxy consent import FILE`, and what it printed."""
    out = io.StringIO()
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(out):
        code = main(
            [
                "--config",
                str(demo / "govproxy.yaml"),
                "consent",
                "import",
                str(csv_file),
            ]
        )
    elapsed = time.perf_counter() - t0
    assert code == 0, out.getvalue()[:2000]  # noqa: S101 - the generated file is valid
    return elapsed, out.getvalue().strip()


def main_bench() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=26_000)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--dir", type=Path, help="demo directory to build or reuse")
    parser.add_argument("--repeat", type=int, default=3, help="end-to-end runs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="import-bench-") as tmp:
        scratch = Path(tmp)
        template = args.dir or scratch / "template"
        t = time.perf_counter()
        prepare_demo(
            template,
            seed=args.seed,
            customers=args.customers,
            port=8080,
            host="127.0.0.1",
        )
        print(
            f"demo deployment: {args.customers} customers ({time.perf_counter() - t:.1f} s)"
        )
        csv_file = scratch / "consents.csv"
        rows = write_csv(template, csv_file, args.rows, args.seed)
        size = csv_file.stat().st_size / 1e6
        print(f"file: {rows} rows, {size:.1f} MB")

        with bulk_work():  # as the command does
            check, commit, superseded, ok = asyncio.run(
                in_process(fresh_copy(template, scratch, "a"), csv_file)
            )
        print(f"check:  {check:6.2f} s  {rows / check:9,.0f} rows/s")
        print(
            f"commit: {commit:6.2f} s  {rows / commit:9,.0f} rows/s"
            f"  ({superseded} live grants superseded; trail verifies: {ok})"
        )
        total = check + commit
        print(f"in process total: {total:6.2f} s  {rows / total:9,.0f} rows/s")

        floor, stored = driver_floor(
            scratch / "a", fresh_copy(template, scratch, "floor")
        )
        print(
            f"baseline, the same {stored:,} stored rows through sqlite3 alone:"
            f" {floor:6.2f} s"
        )

        runs = []
        for n in range(args.repeat):
            elapsed, said = end_to_end(fresh_copy(template, scratch, f"b{n}"), csv_file)
            runs.append(elapsed)
            print(
                f"end to end (govproxy consent import), run {n + 1}:"
                f" {elapsed:6.2f} s  {rows / elapsed:9,.0f} rows/s"
                f"  ({elapsed / floor:.1f}x the baseline)"
            )
        print(f"  {said.splitlines()[0]}")
        median = statistics.median(runs)
        rate = rows / median
        verdict = "PASS" if rate >= TARGET else "FAIL"
        print(
            f"{verdict}: {rate:,.0f} rows/s end to end, median of {len(runs)}"
            f" (target >= {TARGET:,} rows/s)"
        )


if __name__ == "__main__":
    main_bench()

"""Structured-field masking: fields per second, per operator, on one core.

Usage: python bench/masking_bench.py [--customers 20000] [--repeat 3]

Measures (issue #5), over synthetic demo customers (`generate_customers`, seed 7)
as the demo store holds them, with the operators the proxy builds from the demo
catalog (`build_operators`: its masking parameters, a fresh local key file):
  * `mask_record` with one obligation for every field it is meant for:
    keep, withhold, pseudonymise and tokenise over all ten fields; mask over the
    six fields with a display mask (name, mobile, ID, e-mail, address, card);
    generalise over the birth date (analytics' age bands) and the address;
  * `mix`: the obligations the shipped bundle gives customer_service (data.json
    defaults and its by_purpose entries), free text left out (redact_text is
    the scanner's benchmark).
Each row is the best of `--repeat` passes over every record; target >= 200,000
fields/s per row. Prints a table and PASS/FAIL; exits 1 on FAIL.
"""

import argparse
import json
import sys
import tempfile
import time
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Any

from adapters.keys.local import LocalKeyProvider
from governance.catalog import Dataset, load_catalog
from governance.demo.dataset import generate_customers
from governance.masking.apply import mask_record
from governance.masking.registry import OperatorTable, build_operators
from governance.types import Obligation, Record

ROOT = Path(__file__).resolve().parents[1]
TARGET = 200_000
TODAY = date(2026, 1, 1)
MASKED = ["name", "mobile", "id_number", "email", "address", "bank_card"]
GENERALISED = ["birth_date", "address"]


def records(count: int) -> list[Record]:
    """Demo customers as rows of the customers table (tags left out)."""
    rows = []
    for customer in generate_customers(seed=7, count=count):
        row: dict[str, Any] = asdict(customer)
        row.pop("tags")
        row["birth_date"] = customer.birth_date.isoformat()
        rows.append(row)
    return rows


def service_mix(dataset: Dataset) -> dict[str, Obligation]:
    """customer_service's obligation per field, as data.json gives them."""
    doc = json.loads(
        (ROOT / "policies/governance/obligations/data.json").read_text("utf-8")
    )
    by_category = doc["default"] | doc["by_purpose"]["customer_service"]
    return {
        name: Obligation(by_category[fact.category])
        for name, fact in dataset.fields.items()
        if by_category.get(fact.category, "withhold") != "redact_text"
    }


def cases(dataset: Dataset) -> list[tuple[str, str, dict[str, Obligation]]]:
    """(row label, purpose, field -> obligation) for every measured row."""
    every = list(dataset.fields)

    def all_of(obligation: Obligation, fields: list[str]) -> dict[str, Obligation]:
        return dict.fromkeys(fields, obligation)

    return [
        ("keep", "customer_service", all_of(Obligation.KEEP, every)),
        ("withhold", "customer_service", all_of(Obligation.WITHHOLD, every)),
        ("mask", "customer_service", all_of(Obligation.MASK, MASKED)),
        ("generalise", "analytics", all_of(Obligation.GENERALISE, GENERALISED)),
        ("pseudonymise", "analytics", all_of(Obligation.PSEUDONYMISE, every)),
        ("tokenise", "customer_service", all_of(Obligation.TOKENISE, every)),
        ("mix (customer_service)", "customer_service", service_mix(dataset)),
    ]


def measure(
    rows: list[Record],
    obligations: dict[str, Obligation],
    dataset: Dataset,
    table: OperatorTable,
    purpose: str,
    repeat: int,
) -> float:
    """Best fields/s of `repeat` passes of `mask_record` over `rows`."""
    narrowed = [{f: r[f] for f in obligations} for r in rows]
    operators = table.for_purpose(purpose)
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for row in narrowed:
            mask_record(
                row, obligations=obligations, fields=dataset.fields, operators=operators
            )
        best = min(best, time.perf_counter() - start)
    return len(rows) * len(obligations) / best


def main() -> int:
    """Run every row, print the table, and say whether each met the target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    catalog = load_catalog(ROOT / "governance/demo/catalog.yaml")
    dataset = catalog.datasets["customers"]
    with tempfile.TemporaryDirectory() as tmp:
        keys = LocalKeyProvider(Path(tmp) / "keys.json")
        table = build_operators(keys, catalog, today=lambda: TODAY)
    rows = records(args.customers)
    print(f"{args.customers} records, best of {args.repeat}; target >= {TARGET:,}/s")
    print(f"{'operator':<24} {'fields':>6} {'fields/s':>12} {'us/field':>9}  result")
    failed = False
    for label, purpose, obligations in cases(dataset):
        rate = measure(rows, obligations, dataset, table, purpose, args.repeat)
        ok = rate >= TARGET
        failed |= not ok
        print(
            f"{label:<24} {len(obligations):>6} {rate:>12,.0f} {1e6 / rate:>9.2f}"
            f"  {'PASS' if ok else 'FAIL'}"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

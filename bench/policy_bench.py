"""Policy evaluation: per decision in process and through an OPA sidecar, and per query.

Usage: python bench/policy_bench.py [--decisions 2000] [--customers 10000] [--queries 5]

Measures in one run (issue #4):
  * one uncached decision of the shipped bundle, on the input of a governed read
    of every customer field for marketing_push: regorus in process (what the
    proxy runs by default), the real OPA engine in process (the test-only
    opa-golib bindings), and the OPA-sidecar path (`OpaDecider`, HTTP to a Data
    API server evaluating with the real OPA engine: tests/opa_server.py);
    p50/p99 ms, target <= 0.5 ms p50 in process;
  * a decision answered by `CachingDecider` (the same shape again): p50 us;
  * a governed query of 1,000 records through the real app (a demo deployment of
    `--customers`, in-process TestClient): the time spent in policy, i.e.
    building policy inputs plus deciding, per query; target <= 5 ms. Measured
    by wrapping `Access.policy_input` and the app's decider with timers.
Prints a table and PASS/FAIL; exits 1 on FAIL. The OPA rows are skipped, and
said so, when the bindings are not installed.
"""

import argparse
import asyncio
import contextlib
import io
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from adapters.opa.decider import OpaDecider
from adapters.rego.bundle import load_bundle
from adapters.rego.decider import RegorusDecider
from governance import pipeline
from governance.app import create_app
from governance.catalog import load_catalog
from governance.consent.ledger import ConsentRecord
from governance.demo.setup import prepare_demo
from governance.policy.decide import CachingDecider
from governance.ports import PolicyDecider
from governance.settings import load_settings
from governance.types import ConsentState, Decision, Principal, Role

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from opa_server import (  # type: ignore[import-not-found]  # noqa: E402 - tests/
    OpaTestServer,
    opa_engine,
    opa_engine_missing,
)

TARGET_DECISION_MS, TARGET_QUERY_MS = 0.5, 5.0
QUERY_TAGS = ["高消费", "母婴", "美妆", "运动", "宠物", "新客", "复购", "沉睡"]


def read_input(catalog_file: Path) -> dict[str, Any]:
    """What a governed read of all customer fields for marketing_push asks the policy."""
    catalog = load_catalog(catalog_file)
    dataset, purpose = catalog.datasets["customers"], catalog.purposes["marketing_push"]
    notice = catalog.current_notice(purpose.name)
    assert notice is not None  # noqa: S101 - the demo catalog has one
    access = pipeline.Access(
        Principal("campaign-sms", Role.SERVICE, frozenset({purpose.name})),
        purpose,
        dataset,
        list(dataset.fields),
        False,
    )
    consent = ConsentRecord(
        ConsentState.GRANTED,
        notice_version=notice.version,
        kind=notice.kind,
        grantor="self",
        scope=notice.categories,
    )
    return access.policy_input(consent, False)


async def timed(call: Callable[[], Awaitable[Any]], n: int) -> list[float]:
    """`n` timings of `call` in ms, after a warm-up of n // 10."""
    for _ in range(max(1, n // 10)):
        await call()
    out = []
    for _ in range(n):
        t = time.perf_counter()
        await call()
        out.append((time.perf_counter() - t) * 1000)
    return out


def pct(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


async def decisions(policy_input: dict[str, Any], n: int) -> dict[str, list[float]]:
    """Per-decision timings of each engine on the same input."""
    bundle = load_bundle(ROOT / "policies")
    regorus = RegorusDecider(bundle)
    cached = CachingDecider(regorus, size=16)
    results: dict[str, list[float]] = {}
    try:
        results["regorus, in process"] = await timed(
            lambda: regorus.decide(policy_input), n
        )
        results["cached (CachingDecider hit)"] = await timed(
            lambda: cached.decide(policy_input), n
        )
    finally:
        regorus.close()
    if opa_engine_missing() is None:
        engine = opa_engine(ROOT / "policies")

        async def in_process() -> Any:
            return engine.eval_document("governance.access.decision", policy_input)

        try:
            results["OPA engine, in process"] = await timed(in_process, n)
        finally:
            engine.close()
        with OpaTestServer(ROOT / "policies") as server:
            async with OpaDecider(
                server.url, timeout_ms=1000, revision=bundle.revision
            ) as opa:
                results["OPA sidecar (HTTP Data API)"] = await timed(
                    lambda: opa.decide(policy_input), n
                )
    return results


class Stopwatch:
    """Accumulated ms of the policy path: input building and deciding."""

    def __init__(self) -> None:
        self.ms = 0.0
        self.calls = 0


class TimedDecider:
    """Wraps the app's decider, adding its time to a stopwatch."""

    def __init__(self, inner: PolicyDecider, watch: Stopwatch) -> None:
        self._inner, self._watch = inner, watch

    @property
    def revision(self) -> str:
        return self._inner.revision

    async def decide(self, policy_input: dict[str, Any]) -> Decision:
        t = time.perf_counter()
        try:
            return await self._inner.decide(policy_input)
        finally:
            self._watch.ms += (time.perf_counter() - t) * 1000
            self._watch.calls += 1


def query_policy_ms(
    data_dir: Path, customers: int, runs: int
) -> list[tuple[float, int, int]]:
    """(policy ms, records, decisions) of `runs` governed queries of 1,000 records."""
    deployment = prepare_demo(
        data_dir, seed=2026, customers=customers, port=8080, host="127.0.0.1"
    )
    key = next(c["key"] for c in deployment.credentials if c["name"] == "campaign-sms")
    watch = Stopwatch()
    original = pipeline.Access.policy_input

    def timed_input(self: pipeline.Access, *args: Any, **kw: Any) -> dict[str, Any]:
        t = time.perf_counter()
        try:
            return original(self, *args, **kw)
        finally:
            watch.ms += (time.perf_counter() - t) * 1000

    pipeline.Access.policy_input = timed_input  # type: ignore[method-assign]
    out = []
    try:
        app = create_app(load_settings(data_dir / "govproxy.yaml"))
        with TestClient(app) as client:
            services = app.state.services
            app.state.services = replace(
                services, decider=TimedDecider(services.decider, watch)
            )
            body = {
                "fields": ["mobile", "nickname"],
                "where": {"tags_any": QUERY_TAGS},
                "limit": 1000,
            }
            headers = {
                "Authorization": f"Bearer {key}",
                "X-Purpose": "marketing_push",
                "X-Approval-Ref": "APR-BENCH-1",  # 1,000 is over the bulk threshold
            }
            for run in range(runs + 1):  # the first one warms caches up
                watch.ms, watch.calls = 0.0, 0
                response = client.post(
                    "/v1/datasets/customers/query", json=body, headers=headers
                )
                assert response.status_code == 200, response.text  # noqa: S101
                if run:
                    out.append((watch.ms, len(response.json()["records"]), watch.calls))
    finally:
        pipeline.Access.policy_input = original  # type: ignore[method-assign]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=2000)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="policy-bench-") as tmp:
        data_dir = Path(tmp)
        with contextlib.redirect_stdout(io.StringIO()):  # the app's request log lines
            queries = query_policy_ms(data_dir, args.customers, args.queries)
        policy_input = read_input(data_dir / "catalog.yaml")
    results = asyncio.run(decisions(policy_input, args.decisions))
    print(
        f"one decision ({args.decisions:,} runs, {len(policy_input['fields'])} fields)"
    )
    print(f"{'engine':34} {'p50 ms':>9} {'p99 ms':>9}")
    for name, samples in results.items():
        print(f"{name:34} {pct(samples, 0.5):9.3f} {pct(samples, 0.99):9.3f}")
    if opa_engine_missing() is not None:
        print(f"OPA rows skipped: {opa_engine_missing()}")
    in_process = pct(results["regorus, in process"], 0.5)
    policy_ms = statistics.median(q[0] for q in queries)
    records = queries[0][1]
    print(
        f"\ngoverned query of {records:,} records, {len(queries)} runs: policy"
        f" {', '.join(f'{q[0]:.1f}' for q in queries)} ms"
        f" ({queries[0][2]:,} decide calls per query); median {policy_ms:.1f} ms"
    )
    ok = in_process <= TARGET_DECISION_MS and policy_ms <= TARGET_QUERY_MS
    ok = ok and records == 1000
    print(
        f"targets: decision p50 <= {TARGET_DECISION_MS} ms in process"
        f" ({in_process:.3f}); policy per 1,000-record query <= {TARGET_QUERY_MS:.0f} ms"
        f" ({policy_ms:.1f})"
    )
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

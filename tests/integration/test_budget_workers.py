"""One caller budget across real worker processes: `govproxy serve --workers 2` on one Redis.

Two uvicorn workers count the same caller's requests in the real Redis under a
prefix of this test's own. Once both have started, clients read concurrently,
each read on a fresh connection, in rounds until both workers have answered
(the kernel may hand one worker a whole round); whatever the split, the
admissions of both together equal the budget exactly (one Redis round trip per
request, no lease), the rest are 429s, and every 429 has its audit event.
"""

import asyncio
import json
import os
import shutil
import sqlite3
import time
from collections import Counter
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
import redis
from factories import auth, subjects
from redis_server import REDIS_URL, fresh_prefix
from served import serving

BUDGET = 20
CLIENTS = 6
PER_CLIENT = 10
ROUNDS_S = 12  # rounds start within this long, until both workers answered
EDGE_S = 20  # keep the whole run inside one fixed one-minute window


def wait_for_both_workers(store: Path) -> None:
    """Wait until both workers started their audit writers (one chain each)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with closing(sqlite3.connect(store)) as conn:
            (chains,) = conn.execute("SELECT count(*) FROM audit_chains").fetchone()
        if chains >= 2:
            return
        time.sleep(0.1)
    pytest.fail("the second worker did not start within 60 s")


def wait_clear_of_the_window_edge() -> None:
    """Sleep past the next minute on Redis's clock if this one ends within EDGE_S."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        seconds, micros = client.time()
    finally:
        client.close()
    into = seconds % 60 + micros / 1e6
    if into > 60 - EDGE_S:
        time.sleep(60 - into + 0.2)


def answering_chains(store: Path) -> set[str]:
    """The chains (one per worker) of the reads and refusals audited so far."""
    with closing(sqlite3.connect(store)) as conn:
        return {
            chain
            for (chain,) in conn.execute(
                "SELECT DISTINCT chain_id FROM audit_events"
                " WHERE kind IN ('access.read', 'caller.budget')"
            )
        }


def drive_until_both_answered(base: str, key: str, path: str, store: Path) -> Counter:
    """Rounds of `drive` until both workers have answered (or ROUNDS_S is up)."""
    statuses: Counter[int] = Counter()
    deadline = time.monotonic() + ROUNDS_S
    while True:
        statuses.update(asyncio.run(drive(base, key, path)))
        if len(answering_chains(store)) == 2 or time.monotonic() > deadline:
            return statuses


async def drive(base: str, key: str, path: str) -> list[int]:
    """CLIENTS clients read PER_CLIENT times each, each read on a new connection."""
    headers = auth(key, "order_fulfilment") | {"Connection": "close"}

    async def client() -> list[int]:
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            return [
                (await http.get(path, headers=headers)).status_code
                for _ in range(PER_CLIENT)
            ]

    runs = await asyncio.gather(*(client() for _ in range(CLIENTS)))
    return [status for run in runs for status in run]


@pytest.fixture(scope="module")
def served(
    demo_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """The statuses the clients got, and the audit events the two workers wrote."""
    root = tmp_path_factory.mktemp("budget-workers")
    folder = root / "demo"
    shutil.copytree(demo_template, folder)
    keys = json.loads((folder / "demo-credentials.json").read_text(encoding="utf-8"))
    key = next(c["key"] for c in keys if c["name"] == "brand-app")
    path = f"/v1/datasets/customers/records/{subjects(folder, minor=False)[0]}"
    with fresh_prefix() as prefix:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GOV_")} | {
            "GOV_REDIS__URL": REDIS_URL,
            "GOV_REDIS__PREFIX": prefix,
            "GOV_LIMITS__CALLER_REQUESTS_PER_MINUTE": str(BUDGET),
            # This test is about sharing, not timeouts: on a loaded CI machine a
            # worker's event loop can stall past the 100 ms default (an fsync).
            "GOV_REDIS__TIMEOUT_MS": "1000",
        }
        with serving(folder, env, root / "serve.log", workers=2) as (_, base):
            wait_for_both_workers(folder / "governance.db")
            wait_clear_of_the_window_edge()
            statuses = drive_until_both_answered(
                base, key, path, folder / "governance.db"
            )
    with closing(sqlite3.connect(folder / "governance.db")) as conn:
        events = conn.execute(
            "SELECT kind, outcome, reason, chain_id FROM audit_events"
            " WHERE kind IN ('access.read', 'caller.budget')"
        ).fetchall()
    return {"statuses": statuses, "events": events}


class TestBudgetAcrossWorkers:
    """Two worker processes, one budget."""

    def test_the_workers_together_admit_exactly_the_budget(self, served):
        """Of 60 reads a round, 20 are served in all and the rest refused with 429."""
        total = served["statuses"].total()
        assert served["statuses"] == {200: BUDGET, 429: total - BUDGET}

    def test_both_workers_answered(self, served):
        """Answers were audited on two chains, one per worker process.

        With per-process counts, the worker that answered second would have
        admitted its own first reads too, and more than the budget would pass.
        """
        chains = {chain for *_, chain in served["events"]}

        assert len(chains) == 2

    def test_every_refusal_is_audited(self, served):
        """Each 429 has one `caller.budget` event, denied for `rate_limited`."""
        refusals = [
            (outcome, reason)
            for kind, outcome, reason, _ in served["events"]
            if kind == "caller.budget"
        ]

        assert refusals == [("denied", "rate_limited")] * served["statuses"][429]

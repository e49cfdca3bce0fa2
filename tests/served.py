"""`govproxy serve` as real processes over a copy of the demo deployment, and load on it.

Shared by the tests that run the proxy as an operator would (crash, graceful
shutdown, several instances, store and source faults):

- `demo_copy()`: a copy of the demo deployment and the URL of its governance
  store, on SQLite or on a fresh PostgreSQL database holding the demo callers;
- `serving()`: `govproxy serve [--workers N]` on it, waited for until it answers;
- `drive()`: several client connections sending governed reads, recording each
  answer's status, decision id and send time, and reads that got no answer;
- `crowd()`: many reads at once, each on a new connection.

What the store holds afterwards is read with `accounting`.
"""

import asyncio
import json
import math
import os
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx2 as httpx
import pytest
from accounting import Answer, chains
from factories import auth, subjects
from net import free_port, wait_until_up
from pg import fresh_database
from sqlalchemy import insert, select

from governance.auth.models import Caller
from governance.store import open_store

CLIENTS = 6
STARTUP_S = 45.0  # several workers start on a shared 2-core machine
REQUEST_S = 15.0  # one read's client timeout: longer than any bound of the proxy
LOAD_S = 30.0  # the most a load runs
READ = "/v1/datasets/customers/records/{subject}"
PROBLEM_JSON = "application/problem+json"


# --- deployments -------------------------------------------------------------------------


def keys_of(folder: Path) -> dict[str, str]:
    """Caller name -> bearer key of the demo callers."""
    creds = json.loads((folder / "demo-credentials.json").read_text(encoding="utf-8"))
    return {c["name"]: c["key"] for c in creds}


async def copy_callers(db: Path, url: str) -> None:
    """Create the store at `url` holding the demo store's callers, keys included."""
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
def demo_copy(
    template: Path, root: Path, kind: str, *, sqlite_query: str = ""
) -> Iterator[tuple[Path, str]]:
    """A copy of the demo deployment under `root` and the URL of its store of `kind`.

    `kind` is `sqlite` (the copy's own `governance.db`, with `sqlite_query`
    appended to its URL) or `postgresql` (a fresh database, dropped afterwards).
    """
    folder = root / "demo"
    shutil.copytree(template, folder)
    if kind == "sqlite":
        yield folder, f"sqlite+aiosqlite:///{folder / 'governance.db'}{sqlite_query}"
        return
    with fresh_database() as url:
        asyncio.run(copy_callers(folder / "governance.db", url))
        yield folder, url


def proxy_env(store_url: str, **settings: str) -> dict[str, str]:
    """This process's environment without any `GOV_*`, then the store and `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOV_")}
    env["GOV_STORE_URL"] = store_url
    env.update({f"GOV_{k.upper()}": v for k, v in settings.items()})
    return env


# --- processes ---------------------------------------------------------------------------


@contextmanager
def serving(
    folder: Path, env: dict[str, str], log: Path, *, workers: int = 1, wait: bool = True
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`govproxy serve` on the deployment in `folder`; yields the process and its URL.

    With `wait=False` it yields at once (start several, then `wait_until_up`).
    A process still running at the end is sent SIGTERM, then SIGKILL.
    """
    port = free_port()
    with log.open("ab") as out:
        proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            [sys.executable, "-m", "governance", "--config", str(folder / "govproxy.yaml"),
             "serve", "--host", "127.0.0.1", "--port", str(port),
             "--workers", str(workers)],
            stdout=out, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        if wait:
            wait_until_up(base, proc, log)
        yield proc, base
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def wait_for_writers(url: str, count: int) -> None:
    """Wait until `count` audit writers (one per started worker) have registered."""
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        if len(asyncio.run(chains(url))) >= count:
            return
        time.sleep(0.2)
    pytest.fail(f"{count} audit writers did not start within {STARTUP_S:.0f} s")


# --- load --------------------------------------------------------------------------------


def governed_reads(folder: Path) -> list[tuple[str, dict[str, str]]]:
    """Governed reads the demo answers 200 (contract reads) or 403 (a bank card for SMS)."""
    keys = keys_of(folder)
    allowed = auth(keys["brand-app"], "order_fulfilment")
    denied = auth(keys["campaign-sms"], "marketing_push")
    adults = subjects(folder, minor=False)[:50]
    return [(READ.format(subject=s), allowed) for s in adults] + [
        (READ.format(subject=s) + "?fields=mobile,bank_card", denied) for s in adults
    ]


def answer_of(response: httpx.Response, sent: float) -> Answer:
    """The `Answer` of a response to a request sent at `sent`."""
    code = None
    if response.headers.get("content-type") == PROBLEM_JSON:
        code = response.json().get("code")
    decision = response.headers.get("X-Decision-Id")
    return Answer(response.status_code, decision, sent, time.monotonic(), code)


@dataclass
class Load:
    """What the clients saw: answers, the send times of reads cut off, a signal's time."""

    answers: list[Answer] = field(default_factory=list)
    cut: list[float] = field(default_factory=list)
    signalled: float = math.inf
    stopped: bool = False
    waiting: int = 0  # clients with a read sent and no answer yet

    async def all_waiting(self, clients: int, within: float = 30.0) -> None:
        """Return once every one of `clients` has a read sent and unanswered."""
        deadline = time.monotonic() + within
        while self.waiting < clients:
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.waiting} of {clients} clients waiting")
            await asyncio.sleep(0.01)

    def signal(self) -> None:
        """Note now as the moment a signal is sent: reads sent before it were in flight."""
        self.signalled = time.monotonic()

    def stop(self) -> None:
        """Let every connection finish its read and stop."""
        self.stopped = True


async def drive(
    bases: str | Sequence[str],
    mix: list[tuple[str, dict[str, str]]],
    *,
    until: int,
    then: Callable[[Load], Awaitable[None]] | None = None,
    clients: int = CLIENTS,
) -> Load:
    """`clients` connections, spread over `bases`, read until `until` answers came back.

    With `then`, it is started the moment the count reaches `until`, and every
    connection goes on reading until its first read without an answer (the
    server is gone), until `then` calls `load.stop()`, or for `LOAD_S` at most.
    """
    load, started = Load(), time.monotonic()
    bases = [bases] if isinstance(bases, str) else bases
    followers: list[asyncio.Task[None]] = []

    async def client(n: int) -> None:
        rng = random.Random(n)
        base = bases[n % len(bases)]
        async with httpx.AsyncClient(base_url=base, timeout=REQUEST_S) as http:
            while not load.stopped and (
                len(load.answers) < until
                or (then is not None and time.monotonic() - started < LOAD_S)
            ):
                path, headers = rng.choice(mix)
                sent = time.monotonic()
                load.waiting += 1
                try:
                    response = await http.get(path, headers=headers)
                except httpx.TransportError:
                    load.cut.append(sent)
                    return
                finally:
                    load.waiting -= 1
                load.answers.append(answer_of(response, sent))
                if then is not None and len(load.answers) == until:
                    followers.append(asyncio.create_task(then(load)))

    await asyncio.gather(*(client(n) for n in range(clients)))
    await asyncio.gather(*followers)
    return load


async def crowd(base: str, path: str, headers: dict[str, str], n: int) -> list[Answer]:
    """`n` reads of `path` at once, each on a new connection of its own."""
    fresh = httpx.Limits(max_connections=n, max_keepalive_connections=0)
    async with httpx.AsyncClient(
        base_url=base, timeout=REQUEST_S, limits=fresh
    ) as http:

        async def one() -> Answer:
            sent = time.monotonic()
            return answer_of(await http.get(path, headers=headers), sent)

        return list(await asyncio.gather(*(one() for _ in range(n))))

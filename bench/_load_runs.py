"""The load bench's measurements: start each server, drive it with wrk, read its CPU."""

import argparse
import asyncio
import http.client
import json
import os
import tempfile
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

import _profile
import _wrk
from _demo import free_port
from _direct_sql import direct_pg, direct_sqlite
from _load_report import (
    DUTIES,
    ENGINE,
    HEADER,
    PACED,
    PACED_MEASURED,
    PACED_SHARE,
    QUERY,
    READ,
    TARGET_PG_RATE,
    UNGOVERNED,
    Row,
)
from _pg import activity
from _servers import (
    Meter,
    Server,
    nginx_argv,
    proxy_argv,
    serving,
    uvicorn_argv,
)
from _wrk import Request
from load_apps import NOOP_BODY

QUERY_TAGS = ("高消费", "母婴", "美妆", "运动", "宠物", "新客", "复购", "沉睡")
QUERY_LIMIT = 20


@dataclass(frozen=True)
class Store:
    """One deployment of the demo: where its settings are, and how to read it directly."""

    name: str
    config: Path
    key: str
    ungoverned_env: dict[str, str] = field(default_factory=dict)
    duties_env: dict[str, str] = field(default_factory=dict)  # the same duties by hand
    crm_url: str | None = None  # PostgreSQL: the customer source
    databases: tuple[str, ...] = ()  # PostgreSQL: the store's and the source's
    source_url: str = ""  # the customer source, as the proxy's catalog names it


class Runner:
    """Runs the rows of one bench invocation."""

    def __init__(
        self, args: argparse.Namespace, root: Path, ids: Sequence[str]
    ) -> None:
        self.args, self.root, self.ids = args, root, list(ids)
        self.logs = root / "logs"
        self.logs.mkdir(exist_ok=True)

    # -- requests ------------------------------------------------------------

    def reads(self, store: Store) -> list[Request]:
        """A governed marketing_push read of each consented adult."""
        headers = {
            "Authorization": f"Bearer {store.key}",
            "X-Purpose": "marketing_push",
        }
        return [
            Request("GET", f"/v1/datasets/customers/records/{i}", headers)
            for i in self.ids
        ]

    def queries(self, store: Store) -> list[Request]:
        """The first page of each tag filter, for marketing_push."""
        headers = {
            "Authorization": f"Bearer {store.key}",
            "X-Purpose": "marketing_push",
            "Content-Type": "application/json",
        }
        return [
            Request(
                "POST",
                "/v1/datasets/customers/query",
                headers,
                json.dumps(
                    {
                        "fields": ["mobile", "nickname"],
                        "where": {"tags_any": [tag]},
                        "limit": QUERY_LIMIT,
                    }
                ),
            )
            for tag in QUERY_TAGS
        ]

    # -- one row -------------------------------------------------------------

    def _http(
        self,
        what: str,
        store: str,
        workers: int | None,
        servers: Sequence[Server],
        port: int,
        requests: Sequence[Request],
        *,
        rate: float | None = None,
        warm: bool = True,
    ) -> Row:
        conns = self.args.connections if rate is None else self.args.paced_connections
        script = self.root / "run.lua"
        script.write_text(_wrk.lua_script(requests, rate=rate))
        url = f"http://127.0.0.1:{port}"
        if warm and self.args.warmup > 0:
            _wrk.run(url, script, seconds=self.args.warmup, connections=conns)
        meter = Meter(
            lambda: [pid for s in servers for pid in s.pids()],
            postgres=store == "postgres",
        ).start()
        r = _wrk.run(url, script, seconds=self.args.seconds, connections=conns)
        load = f"{conns} conn" if rate is None else f"paced {rate:,.0f}/s, {conns} conn"
        row = Row.of_wrk(what, (store, workers), load, r, meter.usage(), offered=rate)
        print(row.markdown(), flush=True)
        return row

    @staticmethod
    def probe(port: int, request: Request) -> None:
        """Send `request` once; SystemExit unless it is answered 200."""
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            body = request.body.encode() if request.body is not None else None
            conn.request(request.method, request.path, body, dict(request.headers))
            answer = conn.getresponse()
            payload = answer.read()
        finally:
            conn.close()
        if answer.status != 200:
            try:
                code = json.loads(payload).get("code", "?")
            except ValueError:
                code = "?"
            raise SystemExit(
                f"{request.method} {request.path.split('/records/')[0]}…"
                f" answered {answer.status} ({code}): the bench would measure refusals"
            )

    # -- sections ------------------------------------------------------------

    def run_all(self, stores: Sequence[Store]) -> list[Row]:
        """Every selected row, in the order the module docstring gives."""
        only, rows = set(self.args.only), []
        print("\n" + HEADER, flush=True)
        if "floor" in only:
            rows += self.floor()
        if "sql" in only:
            rows += [self.direct(s) for s in stores]
        for store in stores:
            for workers in self.args.workers:
                if "ungoverned" in only:
                    rows.append(self.ungoverned(store, workers))
                if "engine" in only:
                    rows.append(self.ungoverned(store, workers, via_engine=True))
                if "duties" in only:
                    rows.append(self.ungoverned(store, workers, duties=True))
                if only & {"read", "query", "paced"}:
                    rows += self.governed(store, workers)
        return rows

    def floor(self) -> list[Row]:
        """nginx's static file, the no-op ASGI app, and nginx in front of it."""
        nginx_port, asgi_port = free_port(), free_port()
        argv = nginx_argv(
            self.root / "nginx", port=nginx_port, upstream=asgi_port, body=NOOP_BODY
        )
        log = self.logs / "nginx.log"
        rows = []
        with serving(
            "nginx", argv, port=nginx_port, ready_path="/static.json", log=log
        ) as ngx:
            static = [Request("GET", "/static.json")]
            rows.append(
                self._http("nginx static file", "-", 1, [ngx], nginx_port, static)
            )
            for w in self.args.workers:
                noop_argv = uvicorn_argv("load_apps:noop", port=asgi_port, workers=w)
                log = self.logs / f"noop-{w}.log"
                with serving(
                    "no-op ASGI", noop_argv, port=asgi_port, ready_path="/", log=log
                ) as noop:
                    root = [Request("GET", "/")]
                    rows.append(
                        self._http(
                            "no-op ASGI (uvicorn)", "-", w, [noop], asgi_port, root
                        )
                    )
                    if w == 1:
                        hop = [Request("GET", "/asgi/")]
                        rows.append(
                            self._http(
                                "nginx -> no-op ASGI",
                                "-",
                                1,
                                [ngx, noop],
                                nginx_port,
                                hop,
                            )
                        )
        return rows

    def direct(self, store: Store) -> Row:
        """The same rows by key, in this process, one at a time: the baseline."""
        seconds, warmup = self.args.seconds, min(1.0, self.args.warmup)
        if store.crm_url is None:
            db = store.config.parent / "customers.db"
            return direct_sqlite(db, store.name, self.ids, seconds, warmup)
        return asyncio.run(direct_pg(store.crm_url, self.ids, seconds, warmup))

    def ungoverned(
        self,
        store: Store,
        workers: int,
        *,
        via_engine: bool = False,
        duties: bool = False,
    ) -> Row:
        """The FastAPI endpoint without governance, on the same store and workers.

        With `via_engine`, it reads through the proxy's source engine, not the raw
        driver; with `duties`, it also reads consent and durably logs each access.
        """
        port = free_port()
        argv = uvicorn_argv(
            "load_apps:ungoverned", port=port, workers=workers, factory=True
        )
        if via_engine:
            extra, kind, what = {"BENCH_SOURCE_URL": store.source_url}, "engine", ENGINE
        elif duties:
            extra, kind, what = store.duties_env, "duties", DUTIES
        else:
            extra, kind, what = store.ungoverned_env, "raw", UNGOVERNED
        env = {**os.environ, **extra}
        reads = [Request("GET", f"/customers/{i}") for i in self.ids]
        log = self.logs / f"ungoverned-{kind}-{store.name}-{workers}.log"
        with serving(
            what, argv, port=port, ready_path=reads[0].path, log=log, env=env
        ) as srv:
            return self._http(what, store.name, workers, [srv], port, reads)

    def _proxy(
        self, store: Store, workers: int, port: int
    ) -> AbstractContextManager[Server]:
        env = {**os.environ, "GOV_LOG_FORMAT": "json"}
        log = self.logs / f"proxy-{store.name}-{workers}.log"
        argv = proxy_argv(store.config, port=port, workers=workers)
        return serving(
            "govproxy serve", argv, port=port, ready_path="/healthz", log=log, env=env
        )

    def governed(self, store: Store, workers: int) -> list[Row]:
        """Governed reads, queries and the paced run through `govproxy serve`."""
        only, rows = set(self.args.only), []
        paced = "paced" in only and (
            self.args.paced == "all"
            or (store.name == "postgres" and workers == max(self.args.workers))
        )
        port = free_port()
        with self._proxy(store, workers, port) as srv:
            reads, queries = self.reads(store), self.queries(store)
            self.probe(port, reads[0])
            self.probe(port, queries[0])
            if "read" in only or paced:
                read = self._http(READ, store.name, workers, [srv], port, reads)
                rows.append(read)
            if "query" in only:
                rows.append(
                    self._http(QUERY, store.name, workers, [srv], port, queries)
                )
            if paced and read.requests == 0:
                print(f"paced run skipped: no governed read completed ({store.name})")
            elif paced:
                for what, rate in (
                    (PACED, PACED_SHARE * TARGET_PG_RATE),
                    (PACED_MEASURED, self.args.paced_share * read.rate),
                ):
                    rows.append(
                        self._http(
                            what,
                            store.name,
                            workers,
                            [srv],
                            port,
                            reads,
                            rate=rate,
                            warm=False,
                        )
                    )
        return rows

    def profile(self, store: Store, out: Path | None) -> None:
        """Sample one worker's governed reads (or queries) under closed-loop load; print shares."""
        seconds, what = self.args.profile, self.args.profile_path
        if out is None:
            fd, name = tempfile.mkstemp(prefix="govload-profile-", suffix=".txt")
            os.close(fd)
            out = Path(name)
        port = free_port()
        with self._proxy(store, 1, port) as srv:
            requests = self.reads(store) if what == "read" else self.queries(store)
            self.probe(port, requests[0])
            script = self.root / "run.lua"
            script.write_text(_wrk.lua_script(requests))
            url, conns = f"http://127.0.0.1:{port}", self.args.connections
            _wrk.run(url, script, seconds=max(self.args.warmup, 1.0), connections=conns)
            time.sleep(1.0)  # session statistics reach pg_stat_database within ~1 s
            before = self._activity(store)
            gil = not self.args.profile_all_threads
            spy = _profile.record(srv.process.pid, seconds, out, gil=gil)
            r = _wrk.run(url, script, seconds=seconds + 1, connections=conns)
            _, err = spy.communicate(timeout=seconds + 60)
            time.sleep(1.0)
            after = self._activity(store)
        n = max(r.requests, 1)
        sessions, xacts = (after[0] - before[0]) / n, (after[1] - before[1]) / n
        if spy.returncode != 0:
            raise SystemExit(f"py-spy failed: {err.decode(errors='replace')[-500:]}")
        print(
            f"\nprofile: governed {what}s, {store.name}, 1 worker, {conns} connections:"
            f" {r.rate:,.0f}/s while sampled ({r.errors} errors);"
            f" per request, PostgreSQL sessions opened {sessions:.2f},"
            f" transactions {xacts:.1f};"
            f" raw stacks in {out}\n"
        )
        print(_profile.summary(_profile.parse(out.read_text().splitlines())))

    def _activity(self, store: Store) -> tuple[int, int]:
        if not store.databases:
            return 0, 0
        return activity(self.args.pg_url, store.databases)

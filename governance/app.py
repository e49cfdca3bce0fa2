"""`create_app(settings)`: the one place where the proxy is wired together.

Startup loads the policy bundle and the catalog, screening its tag names with
the bundle (either failing stops startup with a message naming the file and the
fault), opens the governance store, starts this process's audit writer and
the checkpoint sealer (`audit.checkpoint_task`), connects the data sources,
and starts watching the bundle for changes (`governance.policy.reload`).
Every request gets an id and one canonical log line, and `/metrics` serves
the Prometheus metrics (`governance.observability`).
"""

import gc
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime

from fastapi import FastAPI

from adapters.counters.memory import InProcessCounters
from adapters.counters.redis import RedisCounters
from adapters.keys.local import LocalKeyProvider
from adapters.opa.decider import OpaDecider
from adapters.rego.bundle import Bundle, load_bundle
from adapters.rego.decider import RegorusDecider
from adapters.rego.directory import RegoBundleDirectory
from adapters.rego.registration import RegoTagScreen
from adapters.sources.engines import Timeouts
from adapters.sources.sql import SqlDataSource
from adapters.sql.pg_states import PgStateReader
from adapters.sql.sqlite_states import SqliteStateReader
from audit.checkpoint_task import Sealer
from audit.signing import AuditSigner
from audit.writer import AuditWriter
from governance.api.limits import RequestLimits
from governance.api.openapi import PROBLEM_RESPONSES, install_openapi
from governance.api.problems import install_problem_handlers
from governance.api.routes import (
    audit,
    audit_proofs,
    audit_reports,
    callers,
    center,
    consent,
    data,
    health,
    metrics,
    policy,
    tokens,
)
from governance.api.routes import text as text_routes
from governance.auth.registry import CallerRegistry
from governance.budget import AttemptBudget, CallerBudget
from governance.catalog import load_catalog
from governance.center.links import LINK_KEY_NAME, LinkSigner
from governance.consent.ledger import ConsentLedger
from governance.consent.receipts import ReceiptSigner
from governance.cursor import CursorSealer
from governance.errors import RestartRequired
from governance.logging import configure_logging
from governance.masking.registry import build_operators
from governance.observability.exposition import worker_stopped
from governance.observability.request_log import RequestLog
from governance.pii import TextMasker
from governance.policy.live import ClosableDecider, LiveDecider
from governance.policy.reload import PolicyReloader
from governance.ports import Counters
from governance.services import Services, subject_referencer
from governance.settings import Settings, load_settings
from governance.store import open_store

DESCRIPTION = """
PIPL compliance proxy for private-domain marketing data. Internal services read
personal data for a declared purpose (`X-Purpose`); every access is checked
against the subject's consent and the Rego policy, masked as the policy obliges,
and audited in a hash-chained trail before it is answered. Errors are RFC 9457
`application/problem+json` with a stable `code`.
"""


GC_YOUNG_THRESHOLD = 50_000  # allocations between young collections (CPython: 700)

Engines = tuple[ClosableDecider, Callable[[Bundle], ClosableDecider]]


@asynccontextmanager
async def _policy_engines(settings: Settings, bundle: Bundle) -> AsyncIterator[Engines]:
    """The configured engine for `bundle`, and how to make one for a newer bundle.

    `regorus` evaluates each bundle in process. `opa` asks the sidecar at
    `opa_url`, started (without `--watch`) on the bundle under `policy_dir`, so
    the revision the audit trail records is the one it decides with. The proxy
    cannot make the sidecar take a newer bundle, so in that mode a reload is
    refused (`restart_required`): a sidecar that followed the files itself would
    decide with a bundle before, or without, its checks passing. The sidecar's
    HTTP session is open until exit.
    """
    if settings.policy_engine == "opa":
        async with OpaDecider(
            settings.opa_url,
            timeout_ms=settings.opa_timeout_ms,
            revision=bundle.revision,
        ) as sidecar:
            yield sidecar, _sidecar_restart_required
        return
    yield RegorusDecider(bundle), RegorusDecider


def _sidecar_restart_required(newer: Bundle) -> ClosableDecider:
    raise RestartRequired(
        f"the OPA sidecar decides with the bundle it started with; to deploy"
        f" revision {newer.revision}, restart the sidecar and the proxy together"
    )


def _state_reader(url: str, dialect: str) -> PgStateReader | SqliteStateReader:
    """Consent and key reads skip SQLAlchemy: see `pg_states` and `sqlite_states`."""
    if dialect == "postgresql":
        return PgStateReader.for_url(url)
    return SqliteStateReader.for_url(url)


def _counters(settings: Settings) -> Counters:
    """Redis when `redis.url` is set (shared by every process), else in-process."""
    if settings.redis.url is None:
        return InProcessCounters()
    return RedisCounters(
        settings.redis.url.get_secret_value(),
        prefix=settings.redis.prefix,
        timeout_s=settings.redis.timeout_ms / 1000,
    )


def quiet_collector() -> None:
    """Keep CPython's cyclic garbage collector off the request path's back.

    Startup leaves hundreds of thousands of long-lived objects (catalog, policy
    engine, masking tables, pools); every full collection walked them all, in
    pauses of up to ~100 ms that set the p99 of governed reads (134 ms against
    19 ms with the collector off, `bench/load_bench.py`). `gc.freeze()` moves
    them out of the collector's sight; a larger first threshold makes young
    collections rarer (a request allocates a few hundred containers, and what
    it leaves cyclic is small and short-lived). Not for `env: test`: a test
    process builds and drops many apps, and frozen objects would never be
    collected (nor may regorus engines be dropped on another thread).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


def create_app(settings: Settings) -> FastAPI:
    """Build the FastAPI app for `settings`; services start in its lifespan."""
    configure_logging(settings.log_format)
    bundle = load_bundle(settings.policy_dir)
    catalog = load_catalog(settings.catalog_file, screen=RegoTagScreen(bundle))
    keys = LocalKeyProvider(settings.keys_file)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        source = SqlDataSource.from_urls(
            catalog.sources,
            Timeouts(
                connect_s=settings.sources.connect_timeout_s,
                statement_s=settings.sources.statement_timeout_s,
            ),
        )
        store = await open_store(settings.store_url)
        writer = AuditWriter(store)
        await writer.start()
        app.state.checkpoints = sealer = Sealer(
            store, keys, interval=settings.checkpoint_seconds
        )
        await sealer.start()
        states = _state_reader(settings.store_url, store.dialect.name)
        engines = AsyncExitStack()
        first, build = await engines.enter_async_context(
            _policy_engines(settings, bundle)
        )
        decider = LiveDecider(first, cache_size=settings.decision_cache_size)
        counters = _counters(settings)
        # Connect early; a Redis that is down does not stop startup (it fails closed).
        await counters.probe()
        app.state.services = Services(
            catalog=catalog,
            store=store,
            callers=CallerRegistry(
                store, known_purposes=frozenset(catalog.purposes), keys=states
            ),
            consents=ConsentLedger(store, states),
            decider=decider,
            source=source,
            operators=build_operators(keys, catalog, redactor=TextMasker()),
            audit=writer,
            subject_ref=subject_referencer(keys.key("subject_ref")[1]),
            cursors=CursorSealer(keys.key("cursor")[1]),
            limits=settings.limits,
            now=lambda: datetime.now(UTC),
            receipts=ReceiptSigner.from_keys(keys),
            issuer=settings.issuer,
            links=LinkSigner(keys.key(LINK_KEY_NAME)[1]),
            audit_signer=AuditSigner.from_keys(keys),
            budget=CallerBudget(counters, settings.limits.caller_requests_per_minute),
            attempts=AttemptBudget(
                counters, settings.limits.unauthenticated_per_minute
            ),
        )
        app.state.policy = reloader = PolicyReloader(
            bundles=RegoBundleDirectory(settings.policy_dir, build),
            catalog=catalog,
            live=decider,
            audit=writer,
            interval=settings.policy_reload_seconds,
            now=lambda: datetime.now(UTC),
        )
        await reloader.start()
        if settings.env != "test":
            quiet_collector()
        try:
            yield
        finally:
            await reloader.stop()
            decider.close()
            await engines.aclose()
            await writer.stop()
            await sealer.stop()  # seals what the writer committed last
            await source.close()
            await states.close()
            await store.dispose()
            await counters.close()
            worker_stopped()

    app = FastAPI(
        title="Governance Proxy",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        responses=PROBLEM_RESPONSES,
    )
    install_openapi(app)
    app.add_middleware(RequestLimits, max_bytes=settings.limits.max_body_bytes)
    app.add_middleware(RequestLog)  # outermost: sees every answer, 413s too
    install_problem_handlers(app)
    for module in (
        health,
        metrics,
        data,
        consent,
        audit,
        audit_proofs,
        audit_reports,
        callers,
        center,
        policy,
        tokens,
    ):
        app.include_router(module.router)
    app.include_router(text_routes.router)
    return app


def app_from_environment() -> FastAPI:
    """The app of one worker of `govproxy serve --workers N`: settings from the environment.

    `GOV_CONFIG_FILE` names the settings file and `GOV_*` variables override it,
    as for every command.
    """
    return create_app(load_settings())

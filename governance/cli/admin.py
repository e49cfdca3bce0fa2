"""Administrative commands: serve, callers add/list/revoke, config check."""

import argparse
import asyncio
import getpass
import os
import shutil
import signal
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.sql import Executable

from adapters.rego.bundle import load_bundle
from adapters.rego.registration import RegoTagScreen
from audit.record import AuditDraft
from audit.writer import AuditWriter
from governance.auth.registry import CallerInfo, CallerRegistry
from governance.catalog import load_catalog
from governance.errors import ConfigurationError
from governance.settings import Settings, load_settings
from governance.store import open_store
from governance.types import Actor, Outcome, Role

T = TypeVar("T")

# How long SIGTERM waits for in-flight requests before closing their connections.
GRACEFUL_SHUTDOWN_S = 30
# How long the supervisor of several workers waits for a worker to answer its
# health ping before killing it as hung. A spawned worker answers only once it
# has imported the proxy, which takes seconds on a busy machine: with uvicorn's
# 5 s default, workers on a loaded host were killed and respawned forever.
WORKER_HEALTHCHECK_S = 60


def add_parsers(sub: Any) -> None:
    """Register the administrative subcommands."""
    callers = sub.add_parser("callers", help="manage callers and their keys")
    csub = callers.add_subparsers(dest="callers_command", required=True)
    add = csub.add_parser("add", help="register a caller; prints its key once")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.add_argument("--purpose", action="append", default=[], dest="purposes")
    add.add_argument(
        "--records-consent",
        action="store_true",
        help="service only: may record grants and opt-ins and open consent centers",
    )
    add.set_defaults(run=callers_add)
    csub.add_parser("list", help="list callers").set_defaults(run=callers_list)
    revoke = csub.add_parser("revoke", help="revoke a caller's key")
    revoke.add_argument("name")
    revoke.set_defaults(run=callers_revoke)
    records = csub.add_parser(
        "records-consent",
        help="mark a service as the app that records consent (on) or not (off)",
    )
    records.add_argument("name")
    records.add_argument("state", choices=("on", "off"))
    records.set_defaults(run=callers_records_consent)

    config = sub.add_parser("config", help="check configuration")
    gsub = config.add_subparsers(dest="config_command", required=True)
    gsub.add_parser("check", help="load settings, catalog and bundle").set_defaults(
        run=config_check
    )


def settings_of(args: argparse.Namespace) -> Settings:
    path: Path | None = args.config
    return load_settings(path)


def with_store(settings: Settings, work: Callable[[Any], Awaitable[T]]) -> T:
    async def run() -> T:
        store = await open_store(settings.store_url)
        try:
            return await work(store)
        finally:
            await store.dispose()

    return asyncio.run(run())


async def audited_by_cli(
    store: Any, kind: str, detail: dict[str, Any], *changes: Executable
) -> None:
    """Commit `changes` together with their audit event by the CLI, or none of it.

    The event names the operating-system user who ran the command (`os_user`),
    as `govproxy audit` commands do: the trail's caller is only `cli`.
    """
    draft = AuditDraft(
        kind=kind,
        outcome=Outcome.ALLOWED.value,
        caller=Actor.CLI,
        detail=detail | {"os_user": os_user()},
    )
    writer = AuditWriter(store)
    await writer.start()
    try:
        await writer.append(draft, also=changes)
    finally:
        await writer.stop()


def os_user() -> str:
    """Who ran the command, as the operating system names them."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def serve(args: argparse.Namespace) -> int:
    """Serve the API with the configured settings, in one or more worker processes.

    One worker serves the app built here. Several are separate processes that
    uvicorn starts and supervises; each builds its app from the same settings
    (`governance.app:app_from_environment`), passed on as `GOV_CONFIG_FILE` and
    `GOV_SERVER__*`; their metrics meet in `PROMETHEUS_MULTIPROC_DIR`. SIGTERM
    or SIGINT drains in-flight requests, then each worker's shutdown flushes
    its audit writer and seals a last checkpoint.
    """
    # The app and the server are imported by the commands that serve only: the
    # others (an import, a verify) start half a second sooner without them.
    import uvicorn

    from adapters.rego.lint import require_fit
    from governance.api.protocol import ProblemHttpProtocol
    from governance.app import create_app

    if args.workers < 1:
        raise ConfigurationError("--workers must be at least 1")
    overrides = {
        k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None
    }
    base = settings_of(args)
    settings = base.model_copy(
        update={"server": base.server.model_copy(update=overrides)}
    )
    # Checked and built here even for several workers: a bad bundle (one a
    # reload would reject, its own failing tests included) or catalog stops the
    # command with its message before any worker starts.
    require_fit(settings.policy_dir, load_catalog(settings.catalog_file))
    app: Any = create_app(settings)
    if args.workers > 1:
        if args.config is not None:
            os.environ["GOV_CONFIG_FILE"] = str(args.config.resolve())
        for key, value in overrides.items():
            os.environ[f"GOV_SERVER__{key.upper()}"] = str(value)
        app = "governance.app:app_from_environment"
    with _metrics_dir(args.workers), _sigterm_exits_0():
        uvicorn.run(
            app,
            factory=args.workers > 1,
            host=settings.server.host,
            port=settings.server.port,
            workers=args.workers,
            log_level="warning",
            access_log=False,  # the app logs one canonical line per request
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
            timeout_worker_healthcheck=WORKER_HEALTHCHECK_S,
            http=ProblemHttpProtocol,
        )
    return 0


@contextmanager
def _sigterm_exits_0() -> Iterator[None]:
    """SIGTERM ends the command with status 0 once uvicorn has drained and shut down.

    uvicorn serves under its own handlers, and after a graceful shutdown raises
    the signal again under the handler it found: with Python's default, a
    one-worker server drained cleanly and still ended as killed by SIGTERM (143).
    Under this handler that last signal is a normal exit, as is a SIGTERM before
    uvicorn has started serving.
    """

    def stop(_signum: int, _frame: object) -> None:
        raise SystemExit(0)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def _metrics_dir(workers: int) -> Iterator[None]:
    """Where several workers' metrics meet, so that any worker's scrape shows all.

    A `PROMETHEUS_MULTIPROC_DIR` set by the operator is used as it is (wipe it
    between runs); otherwise `workers > 1` gets a fresh directory, removed at exit.
    """
    if workers == 1 or os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        yield
        return
    try:
        path = tempfile.mkdtemp(prefix="govproxy-metrics-")
    except OSError as exc:
        raise ConfigurationError(
            f"--workers {workers} needs a writable temporary directory for metrics"
            f" (TMPDIR) or PROMETHEUS_MULTIPROC_DIR ({type(exc).__name__})"
        ) from None
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    try:
        yield
    finally:
        del os.environ["PROMETHEUS_MULTIPROC_DIR"]
        shutil.rmtree(path, ignore_errors=True)


def callers_add(args: argparse.Namespace) -> int:
    """Register a caller and print its key (shown this once only)."""
    settings = settings_of(args)
    catalog = load_catalog(settings.catalog_file)

    async def work(store: Any) -> str:
        registry = CallerRegistry(store, known_purposes=frozenset(catalog.purposes))
        info, key, stmt = await registry.registration(
            args.name,
            Role(args.role),
            args.purposes,
            records_consent=args.records_consent,
        )
        detail = {
            "name": info.name,
            "role": info.role.value,
            "purposes": list(info.purposes),
            "records_consent": info.records_consent,
        }
        await audited_by_cli(store, "caller.added", detail, stmt)
        return key

    key = with_store(settings, work)
    print(f"caller {args.name} ({args.role}) added. Its key, shown only now:\n{key}")
    return 0


def callers_list(args: argparse.Namespace) -> int:
    """Print every caller."""
    settings = settings_of(args)

    async def work(store: Any) -> list[CallerInfo]:
        return await CallerRegistry(store, known_purposes=frozenset()).list()

    for c in with_store(settings, work):
        state = f"revoked {c.revoked_at:%Y-%m-%d}" if c.revoked_at else "active"
        purposes = ",".join(c.purposes) or "-"
        records = "records-consent" if c.records_consent else "-"
        print(f"{c.name}\t{c.role.value}\t{purposes}\t{records}\t{c.key_id}\t{state}")
    return 0


def callers_revoke(args: argparse.Namespace) -> int:
    """Revoke a caller's key."""
    settings = settings_of(args)

    async def work(store: Any) -> None:
        registry = CallerRegistry(store, known_purposes=frozenset())
        stmt = await registry.revocation(args.name)
        await audited_by_cli(store, "caller.revoked", {"name": args.name}, stmt)

    with_store(settings, work)
    print(f"caller {args.name} revoked")
    return 0


def callers_records_consent(args: argparse.Namespace) -> int:
    """Mark an active service as recording consent, or no longer; a caller that
    already is so is left as it is, and nothing is recorded."""
    settings = settings_of(args)
    records = args.state == "on"

    async def work(store: Any) -> bool:
        registry = CallerRegistry(store, known_purposes=frozenset())
        stmt = await registry.recorder_change(args.name, records)
        if stmt is None:
            return False
        await audited_by_cli(
            store,
            "caller.changed",
            {"name": args.name, "records_consent": records},
            stmt,
        )
        return True

    if with_store(settings, work):
        print(f"caller {args.name}: records consent {args.state}")
    else:
        print(
            f"caller {args.name}: records consent is {args.state} already;"
            " nothing changed or recorded"
        )
    return 0


def config_check(args: argparse.Namespace) -> int:
    """Load settings, catalog and policy bundle; report what was found."""
    settings = settings_of(args)
    bundle = load_bundle(settings.policy_dir)
    bundle.engine()
    catalog = load_catalog(settings.catalog_file, screen=RegoTagScreen(bundle))
    print(
        f"ok: {len(catalog.datasets)} datasets, {len(catalog.purposes)} purposes, "
        f"{len(catalog.tags)} tags; policy bundle {bundle.revision}"
    )
    return 0

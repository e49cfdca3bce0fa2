"""`govproxy consent import FILE [--encoding auto|utf-8|gbk] [--dry-run]`.

Exit 0: every row imported (or, with `--dry-run`, every row valid). Exit 1: some
rows are bad; each is printed as `line N: reason` and nothing is imported.
Exit 2: the file cannot be read as a consent CSV (size, encoding, header,
quoting); nothing is imported. The CSV format is `governance.consent.importer`'s.
"""

import argparse
import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.keys.local import LocalKeyProvider
from adapters.sql.engine import create_engine
from governance.catalog import load_catalog
from governance.cli.admin import settings_of, with_store
from governance.consent import importer
from governance.errors import ConfigurationError
from governance.services import subject_referencer
from governance.settings import Settings


def add_parser(consent_sub: Any) -> None:
    """Register `consent import` under the `consent` group."""
    command = consent_sub.add_parser(
        "import",
        help="import consents from a CSV file, all rows or none",
        description=(importer.__doc__ or "").split("\n\n", 1)[-1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    command.add_argument("file", type=Path, metavar="FILE", help="the CSV file")
    command.add_argument(
        "--encoding",
        choices=("auto", "utf-8", "gbk"),
        default="auto",
        help="auto (default) and utf-8: UTF-8 with or without BOM; gbk: GBK/GB18030",
    )
    command.add_argument(
        "--dry-run", action="store_true", help="check every row, import nothing"
    )
    command.set_defaults(run=import_consents)


def import_consents(args: argparse.Namespace) -> int:
    """Check FILE; unless it has bad rows or this is a dry run, import it."""
    settings = settings_of(args)
    catalog = load_catalog(settings.catalog_file)
    path: Path = args.file
    dry_run: bool = args.dry_run
    subject_ref = None if dry_run else _subject_ref(settings)

    async def work(store: AsyncEngine) -> importer.ImportPlan:
        sources = {name: create_engine(url) for name, url in catalog.sources.items()}
        try:
            plan = await importer.check_file(
                path,
                catalog=catalog,
                store=store,
                sources=sources,
                encoding=args.encoding,
                now=datetime.now(UTC),
            )
        finally:
            for engine in sources.values():
                await engine.dispose()
        if plan.ok and subject_ref is not None:
            await importer.commit(plan, store, subject_ref)
        return plan

    with bulk_work():
        plan = with_store(settings, work)
    return _report(plan, path, dry_run=dry_run)


@contextmanager
def bulk_work() -> Iterator[None]:
    """Pause CPython's cyclic garbage collector while an import runs.

    An import holds about ten objects per row (rows, drafts, statements'
    parameters); the collector would rescan them over and over as they pile up
    (45% of building the rows and audit events at 100,000 rows). Nothing an
    import builds is cyclic, so reference counting alone frees it.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _subject_ref(settings: Settings) -> Callable[[str], str]:
    """The audit trail's subject naming; the key file must already exist."""
    if not settings.keys_file.is_file():
        raise ConfigurationError(
            f"{settings.keys_file}: no key file (the proxy creates it when it starts)"
        )
    return subject_referencer(
        LocalKeyProvider(settings.keys_file).key("subject_ref")[1]
    )


def _report(plan: importer.ImportPlan, path: Path, *, dry_run: bool) -> int:
    if not plan.ok:
        for problem in plan.problems:
            print(f"line {problem.line}: {problem.reason}")
        bad = len(plan.problems)
        print(f"{path}: {bad} bad row{'s' if bad > 1 else ''}; nothing imported")
        return 1
    count, digest = len(plan.rows), plan.sha256
    if dry_run:
        print(
            f"dry run: {count} consents in {path} are valid (sha256 {digest}); "
            "nothing imported"
        )
        return 0
    print(f"imported {count} consents from {path} (sha256 {digest})")
    if plan.supersedes:
        print(f"{len(plan.supersedes)} of them supersede a live grant in the ledger")
    return 0

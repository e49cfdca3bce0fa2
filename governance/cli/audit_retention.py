"""`govproxy audit purge`: apply the retention periods to the trail and the ledger.

Run it from cron (nightly is plenty). It never removes an access event younger
than 180 days, a third-party provision record younger than 3 years, or a
consent's history within 3 years after the consent lapsed, whatever the
settings say (audit/retention.py). `--dry-run` counts without changing anything.
"""

import argparse
import asyncio
from datetime import UTC, datetime
from typing import Any

from adapters.keys.local import LocalKeyProvider
from audit.retention import Purger, PurgeReport, RetentionPolicy
from audit.signing import AuditSigner
from audit.writer import AuditWriter
from governance.catalog import load_catalog
from governance.cli.admin import settings_of
from governance.services import subject_referencer
from governance.store import open_store


def add_parsers(audit_sub: Any) -> None:
    """Register `audit purge` under the `audit` group."""
    purge = audit_sub.add_parser(
        "purge", help="tombstone events and delete consent histories past retention"
    )
    purge.add_argument(
        "--dry-run", action="store_true", help="count what is due; change nothing"
    )
    purge.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Purge once (or count, dry) and print what was done."""
    settings = settings_of(args)
    catalog = load_catalog(settings.catalog_file)
    keys = LocalKeyProvider(settings.keys_file)
    third_party = frozenset(p.name for p in catalog.purposes.values() if p.third_party)

    async def work() -> PurgeReport:
        store = await open_store(settings.store_url)
        writer = AuditWriter(store)
        await writer.start()
        try:
            purger = Purger(
                store,
                writer,
                AuditSigner.from_keys(keys),
                policy=RetentionPolicy.of(settings.retention),
                third_party_purposes=third_party,
                subject_ref=subject_referencer(keys.key("subject_ref")[1]),
            )
            return await purger.run(now=datetime.now(UTC), dry_run=args.dry_run)
        finally:
            await writer.stop()
            await store.dispose()

    report = asyncio.run(work())
    verb = "due" if args.dry_run else "purged"
    print(
        f"{report.events} audit events {verb}, {report.consent_histories} consent "
        f"histories {verb}" + ("" if args.dry_run else f" in {report.batches} batches")
    )
    return 0

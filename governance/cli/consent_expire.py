"""`govproxy consent expire`: write `expired` events for grants past their expiry.

Run it from cron (daily is plenty): the consent check already refuses a lapsed
grant; this makes the ledger's history say so too, with audit events.
"""

import argparse
import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from adapters.keys.local import LocalKeyProvider
from audit.writer import AuditWriter
from governance.consent.expiry import sweep
from governance.services import subject_referencer
from governance.settings import load_settings
from governance.store import open_store


def add_parser(consent_sub: Any) -> None:
    """Register `consent expire` under the `consent` group."""
    expire = consent_sub.add_parser(
        "expire", help="record expired events for grants past their expiry"
    )
    expire.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Sweep once and say how many grants expired."""
    config: Path | None = args.config
    settings = load_settings(config)
    key = LocalKeyProvider(settings.keys_file).key("subject_ref")[1]

    async def work() -> int:
        store = await open_store(settings.store_url)
        writer = AuditWriter(store)
        await writer.start()
        try:
            return await sweep(
                store, writer, subject_referencer(key), now=datetime.now(UTC)
            )
        finally:
            await writer.stop()
            await store.dispose()

    count = asyncio.run(work())
    print(f"{count} consents expired")
    return 0

"""`govproxy demo`: build (once) a complete demo deployment in a directory.

Creates, each only if absent: the synthetic customer store, the catalog, the
settings file, the key file, the demo callers (their keys in
`demo-credentials.json`, mode 0600) and a consent history for part of the
customers. Running it again reuses everything, so keys stay valid.
"""

import asyncio
import json
import os
import random
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.keys.local import LocalKeyProvider
from audit.record import AuditDraft
from audit.writer import AuditWriter
from governance.auth.registry import CallerRegistry
from governance.catalog import Catalog, load_catalog
from governance.consent.ledger import ConsentAction, ConsentChange
from governance.consent.models import ConsentEvent
from governance.demo.dataset import write_demo_store
from governance.services import subject_referencer
from governance.settings import Settings, load_settings
from governance.store import open_store
from governance.types import Outcome, Role

DEMO_CALLERS: tuple[tuple[str, Role, tuple[str, ...]], ...] = (
    ("campaign-sms", Role.SERVICE, ("marketing_push",)),
    (
        "brand-app",
        Role.SERVICE,
        (
            "order_fulfilment",
            "customer_service",
            "refund_processing",
            "marketing_push",
            "personalised_recommendation",
            "analytics",
        ),
    ),
    ("compliance-officer", Role.OFFICER, ()),
    ("platform-admin", Role.ADMIN, ()),
)
# Share of customers granting each consent purpose, and of grants later withdrawn.
CONSENT_RATES = {
    "marketing_push": 0.6,
    "personalised_recommendation": 0.4,
    "analytics": 0.3,
}
WITHDRAWN_SHARE = 0.1
NOTICE_VERSION = "2026.01"


@dataclass(frozen=True)
class DemoDeployment:
    """Where the demo lives and how to reach it."""

    settings: Settings
    credentials: list[dict[str, Any]]


def prepare_demo(
    data_dir: Path, *, seed: int, customers: int, port: int, host: str
) -> DemoDeployment:
    """Create whatever of the demo is missing under `data_dir`."""
    data_dir.mkdir(parents=True, exist_ok=True)
    if not (data_dir / "customers.db").exists():
        write_demo_store(data_dir / "customers.db", seed=seed, count=customers)
    catalog_file = data_dir / "catalog.yaml"
    if not catalog_file.exists():
        catalog_file.write_text(
            resources.files("governance.demo")
            .joinpath("catalog.yaml")
            .read_text("utf-8"),
            encoding="utf-8",
        )
    config = data_dir / "govproxy.yaml"
    if not config.exists():
        config.write_text(
            "# Settings of the demo deployment; GOV_* environment variables override them.\n"
            "catalog_file: catalog.yaml\nstore_url: sqlite+aiosqlite:///governance.db\n"
            "keys_file: keys.json\nlog_format: console\n",
            encoding="utf-8",
        )
    settings = load_settings(config, server={"host": host, "port": port})
    credentials = asyncio.run(_seed_store(settings, data_dir, seed))
    return DemoDeployment(settings, credentials)


async def _seed_store(
    settings: Settings, data_dir: Path, seed: int
) -> list[dict[str, Any]]:
    catalog = load_catalog(settings.catalog_file)
    store = await open_store(settings.store_url)
    writer = AuditWriter(store)
    await writer.start()
    try:
        path = data_dir / "demo-credentials.json"
        credentials = await _callers(store, writer, catalog, path)
        await _consents(store, writer, settings, data_dir / "customers.db", seed)
    finally:
        await writer.stop()
        await store.dispose()
    return credentials


async def _callers(
    store: AsyncEngine, writer: AuditWriter, catalog: Catalog, path: Path
) -> list[dict[str, Any]]:
    if path.exists():
        loaded: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
        return loaded
    registry = CallerRegistry(store, known_purposes=frozenset(catalog.purposes))
    credentials = []
    for name, role, purposes in DEMO_CALLERS:
        info, key, stmt = await registry.registration(name, role, list(purposes))
        detail = {"name": name, "role": role.value, "purposes": list(info.purposes)}
        draft = AuditDraft(
            kind="caller.added", outcome="allowed", caller="demo-setup", detail=detail
        )
        await writer.append(draft, also=[stmt])
        credentials.append(
            {
                "name": name,
                "role": role.value,
                "purposes": list(info.purposes),
                "key": key,
            }
        )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(credentials, fh, ensure_ascii=False, indent=2)
    return credentials


async def _consents(
    store: AsyncEngine,
    writer: AuditWriter,
    settings: Settings,
    customers_db: Path,
    seed: int,
) -> None:
    """Record a deterministic consent history, each change audited like any other."""
    async with store.connect() as conn:
        if (
            await conn.execute(select(func.count()).select_from(ConsentEvent))
        ).scalar_one():
            return
    subject_ids = _customer_ids(customers_db)
    ref = subject_referencer(LocalKeyProvider(settings.keys_file).key("subject_ref")[1])
    await asyncio.gather(
        *[writer.append(d, also=[s]) for d, s in _changes(subject_ids, ref, seed)]
    )


def _customer_ids(path: Path) -> list[str]:
    with closing(sqlite3.connect(path)) as conn:
        return [
            r[0]
            for r in conn.execute(
                "SELECT customer_id FROM customers ORDER BY customer_id"
            )
        ]


def _changes(
    subject_ids: list[str], ref: Any, seed: int
) -> list[tuple[AuditDraft, Any]]:
    rng = random.Random(f"governance.demo.consents:{seed}")
    changes = []
    for subject_id in subject_ids:
        for purpose, rate in CONSENT_RATES.items():
            if rng.random() >= rate:
                continue
            actions = [ConsentAction.GRANTED]
            if rng.random() < WITHDRAWN_SHARE:
                actions.append(ConsentAction.WITHDRAWN)
            for action in actions:
                change = ConsentChange(
                    subject_id,
                    purpose,
                    action,
                    NOTICE_VERSION,
                    "import",
                    "import",
                    "demo-import",
                )
                event_id, stmt = change.statement()
                draft = AuditDraft(
                    kind=f"consent.{action.value}",
                    outcome=Outcome.ALLOWED.value,
                    caller="demo-import",
                    purpose=purpose,
                    subject_ref=ref(subject_id),
                    detail={
                        "consent_event_id": event_id,
                        "notice_version": NOTICE_VERSION,
                    },
                )
                changes.append((draft, stmt))
    return changes

"""`govproxy demo`: build (once) a complete demo deployment in a directory.

Creates, each only if absent: the synthetic customer store, the catalog, the
settings file, the key file, the demo callers (their keys in
`demo-credentials.json`, mode 0600) and a consent history for part of the
customers; then seals the audit trail into a signed checkpoint. Running it
again reuses everything, so keys stay valid.
"""

import asyncio
import json
import os
import random
import sqlite3
from contextlib import closing
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.keys.local import LocalKeyProvider
from audit.checkpoint_task import Sealer
from audit.record import AuditDraft
from audit.writer import AuditWriter
from governance.auth.registry import CallerRegistry
from governance.catalog import Catalog, load_catalog
from governance.consent.grant import opt_change
from governance.consent.ledger import ConsentAction, ConsentChange
from governance.consent.models import ConsentEvent
from governance.demo.dataset import REFERENCE_DATE, write_demo_store
from governance.services import subject_referencer
from governance.settings import Settings, load_settings
from governance.store import open_store
from governance.types import Actor, Outcome, Role

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
            "maternal_care_recommendation",
            "analytics",
            "coupon_targeting",
            "partner_sharing",
        ),
    ),
    ("partner-gateway", Role.SERVICE, ("partner_sharing",)),
    ("compliance-officer", Role.OFFICER, ()),
    ("platform-admin", Role.ADMIN, ()),
)
# The app that asks subjects: records their grants, opt-ins and consent-center links.
DEMO_RECORDERS = frozenset({"brand-app"})
# Share of customers granting each consent purpose, and of grants later withdrawn.
CONSENT_RATES = {
    "maternal_care_recommendation": 0.05,
    "marketing_push": 0.6,
    "personalised_recommendation": 0.4,
    "analytics": 0.3,
}
WITHDRAWN_SHARE = 0.1
STALE_SHARE = 0.1  # marketing consents given on the retired 2025.06 notice (C-05)
OPT_OUT_SHARE = 0.03  # subjects who turned personalisation off
OLD_NOTICE = "2025.06"
# Born after this: under 14 on the demo data's reference day.
MINOR_BORN_AFTER = REFERENCE_DATE.replace(year=REFERENCE_DATE.year - 14).isoformat()


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
        keys = LocalKeyProvider(settings.keys_file)
        await Sealer(store, keys, interval=0).seal_now()  # a signed checkpoint
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
        info, key, stmt = await registry.registration(
            name, role, list(purposes), records_consent=name in DEMO_RECORDERS
        )
        detail = {
            "name": name,
            "role": role.value,
            "purposes": list(info.purposes),
            "records_consent": info.records_consent,
        }
        draft = AuditDraft(
            kind="caller.added",
            outcome="allowed",
            caller=Actor.DEMO_SETUP,
            detail=detail,
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
    catalog = load_catalog(settings.catalog_file)
    ref = subject_referencer(LocalKeyProvider(settings.keys_file).key("subject_ref")[1])
    changes = _changes(catalog, _customers(customers_db), seed)
    await asyncio.gather(*[writer.append(_draft(c, ref), also=[s]) for c, s in changes])


def _customers(path: Path) -> list[tuple[str, bool]]:
    """(customer id, under 14 on the reference date) of every demo customer."""
    with closing(sqlite3.connect(path)) as conn:
        rows = conn.execute("SELECT customer_id, birth_date FROM customers ORDER BY 1")
        return [(cid, birth > MINOR_BORN_AFTER) for cid, birth in rows]


def _draft(change: ConsentChange, ref: Any) -> AuditDraft:
    return AuditDraft(
        kind=f"consent.{change.action.value}",
        outcome=Outcome.ALLOWED.value,
        caller=Actor.DEMO_IMPORT,
        purpose=change.purpose,
        subject_ref=ref(change.subject_id),
        detail={"notice_version": change.notice_version, "kind": change.kind},
    )


def _changes(
    catalog: Catalog, customers: list[tuple[str, bool]], seed: int
) -> list[tuple[ConsentChange, Any]]:
    """Grants (some on an older notice, some by guardians), withdrawals, opt-outs."""
    rng = random.Random(f"governance.demo.consents:{seed}")
    out = []
    for subject_id, minor in customers:
        for purpose, rate in CONSENT_RATES.items():
            if rng.random() >= rate:
                continue
            old = purpose == "marketing_push" and rng.random() < STALE_SHARE
            grant = _grant(catalog, subject_id, purpose, old=old, guardian=minor)
            chain = [grant]
            if rng.random() < WITHDRAWN_SHARE:
                chain.append(replace(grant, action=ConsentAction.WITHDRAWN))
            out += [(c, c.statement()[2]) for c in chain]
        if rng.random() < OPT_OUT_SHARE:
            opt = opt_change(
                subject_id, ConsentAction.OPTED_OUT, "app", Actor.DEMO_IMPORT
            )
            out.append((opt, opt.statement()[2]))
    return out


def _grant(
    catalog: Catalog, subject_id: str, purpose: str, *, old: bool, guardian: bool
) -> ConsentChange:
    notice = catalog.notice(purpose, OLD_NOTICE) if old else None
    notice = notice or catalog.current_notice(purpose)
    assert notice is not None  # noqa: S101 - the demo catalog has one per purpose
    kind = "guardian" if guardian else notice.kind
    return ConsentChange(
        subject_id,
        purpose,
        ConsentAction.GRANTED,
        notice.version,
        "import",
        "import",
        Actor.DEMO_IMPORT,
        scope=tuple(sorted(notice.categories)),
        kind=kind,
        grantor="guardian" if guardian else "self",
        declared_frequency="4/month" if catalog.purposes[purpose].messaging else None,
    )

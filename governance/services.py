"""The collaborators one running proxy uses, built once by `governance.app.create_app`.

All are injected, none is a module-level singleton, so tests can build a proxy
around any store, bundle or source they like.
"""

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from audit.signing import AuditSigner
from audit.writer import AuditWriter
from governance.auth.registry import CallerRegistry
from governance.budget import AttemptBudget, CallerBudget
from governance.catalog import Catalog
from governance.center.links import LinkSigner
from governance.consent.ledger import ConsentLedger
from governance.consent.receipts import ReceiptSigner
from governance.cursor import CursorSealer
from governance.masking.registry import OperatorTable
from governance.ports import DataSource, PolicyDecider
from governance.settings import LimitSettings


@dataclass(frozen=True)
class Services:
    """Everything a request handler needs."""

    catalog: Catalog
    store: AsyncEngine
    callers: CallerRegistry
    consents: ConsentLedger
    decider: PolicyDecider
    source: DataSource
    operators: OperatorTable
    audit: AuditWriter
    subject_ref: Callable[[str], str]
    cursors: CursorSealer
    limits: LimitSettings
    now: Callable[[], datetime]
    receipts: ReceiptSigner
    issuer: str
    links: LinkSigner
    audit_signer: AuditSigner
    budget: CallerBudget
    attempts: AttemptBudget


def subject_referencer(key: bytes) -> Callable[[str], str]:
    """How subjects are named in the audit trail: a keyed hash, not the raw id (L-06).

    An officer looking up a subject's events presents the raw id; the proxy
    hashes it with the same key, so the trail itself never holds the id.
    """

    def subject_ref(subject_id: str) -> str:
        return (
            "s_"
            # surrogatepass: an id no store can hold (a lone surrogate, from a
            # command line) still gets a name, under which nothing is found
            + hmac.new(
                key, subject_id.encode("utf-8", "surrogatepass"), hashlib.sha256
            ).hexdigest()[:32]
        )

    return subject_ref

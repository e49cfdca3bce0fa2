"""`govproxy audit report --month YYYY-MM [--html FILE] [--json FILE]`: the monthly self-check.

Reads the governance store directly, builds the report (`audit.report`),
commits its own audit event (`audit.report`, caller `cli`) and only then writes
the files asked for (each whole or not at all) and prints a summary. Exit 0:
nothing to follow up in the trail's integrity or in withdrawals; exit 1: the
trail does not verify or an access was allowed after a withdrawal (the report
is still written: it says where); exit 2: a bad month or configuration, nothing
written.
"""

import argparse
import os
import tempfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.keys.local import LocalKeyProvider
from audit.checkpoint import public_keys_of
from audit.record import AuditDraft
from audit.report.build import build_report
from audit.report.document import render_json
from audit.report.figures import SelfCheckReport
from audit.report.month import parse_month
from audit.report.page import render_html
from audit.writer import AuditWriter
from governance.catalog import load_catalog
from governance.cli.admin import settings_of, with_store
from governance.errors import ConfigurationError
from governance.services import subject_referencer
from governance.types import Actor, Outcome


def add_parser(audit_sub: Any) -> None:
    """Register `audit report` under the `audit` group."""
    command = audit_sub.add_parser(
        "report",
        help="the monthly self-check report (合规自查), HTML and/or JSON",
        description=(__doc__ or "").split("\n\n", 1)[-1],
    )
    command.add_argument("--month", required=True, help="YYYY-MM, Beijing time")
    command.add_argument("--html", type=Path, metavar="FILE", help="write the page")
    command.add_argument("--json", type=Path, metavar="FILE", help="write the JSON")
    command.set_defaults(run=audit_report)


def audit_report(args: argparse.Namespace) -> int:
    """Build, audit, write and summarise one month's self-check."""
    month = parse_month(args.month, now=datetime.now(UTC))
    settings = settings_of(args)
    catalog = load_catalog(settings.catalog_file)
    if not settings.keys_file.is_file():
        raise ConfigurationError(
            f"{settings.keys_file}: no key file (the proxy creates it when it starts)"
        )
    keys = LocalKeyProvider(settings.keys_file)
    subject_ref = subject_referencer(keys.key("subject_ref")[1])
    public_keys = [pem for _, pem in public_keys_of(keys)]
    formats = [name for name in ("html", "json") if getattr(args, name) is not None]
    for name in formats:
        folder = getattr(args, name).parent
        if not os.access(folder, os.W_OK):
            raise ConfigurationError(f"--{name}: {folder} is not a writable directory")

    async def work(store: AsyncEngine) -> SelfCheckReport:
        report = await build_report(store, catalog, month, subject_ref, public_keys)
        writer = AuditWriter(store)
        await writer.start()
        try:
            await writer.append(_event(report, formats))
        finally:
            await writer.stop()
        return report

    report = with_store(settings, work)
    if args.html is not None:
        _write(args.html, render_html(report).encode())
    if args.json is not None:
        _write(args.json, render_json(report))
    _summarise(report, [p for p in (args.html, args.json) if p is not None])
    return 0 if report.chain.ok and not report.consent.violations else 1


def _event(report: SelfCheckReport, formats: list[str]) -> AuditDraft:
    return AuditDraft(
        kind="audit.report",
        outcome=Outcome.ALLOWED.value,
        caller=Actor.CLI,
        detail={
            "month": report.month,
            "formats": formats,
            "chain_ok": report.chain.ok,
            "allowed_after_withdrawal": report.consent.violations,
        },
    )


def _write(path: Path, content: bytes) -> None:
    """Write `content` to `path` whole: a temporary file beside it, then a rename."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(content)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _summarise(report: SelfCheckReport, paths: list[Path]) -> None:
    a, c, an = report.accesses, report.consent, report.anomalies
    sensitive = sum(u.events for u in report.sensitive)
    chain = report.chain
    print(
        f"self-check {report.month} (Beijing time"
        f"{'' if report.complete else ', month not over yet'}): {a.total.total:,}"
        f" accesses ({a.total.denied:,} denied), {a.subjects:,} subjects"
    )
    print(
        f"sensitive categories released {sensitive:,} times; {c.latency.withdrawals:,}"
        f" withdrawals, {c.violations:,} accesses allowed after a withdrawal"
    )
    print(
        f"volume: {len(an.flags)} flagged days, {len(an.new_callers)} new callers;"
        f" trail {'intact' if chain.ok else 'NOT intact'}: {chain.events:,} events"
        f" in {chain.chains} chains"
    )
    kinds: Counter[str] = Counter()
    for r in report.denials.outside_access:
        kinds[r.kind] += r.count
    line = f"refused outside data access: {kinds.total():,}"
    if kinds:
        line += " (" + ", ".join(f"{k} {n:,}" for k, n in sorted(kinds.items())) + ")"
    print(line)
    for path in paths:
        print(f"wrote {path}")

"""`govproxy audit`: work with the audit trail."""

import argparse
from typing import Any

from audit.verify import verify_trail
from governance.cli import audit_report
from governance.cli.admin import settings_of, with_store


def add_parser(sub: Any) -> None:
    """Register `audit` and its subcommands."""
    audit = sub.add_parser("audit", help="work with the audit trail")
    asub = audit.add_subparsers(dest="audit_command", required=True)
    asub.add_parser("verify", help="verify every chain").set_defaults(run=audit_verify)
    audit_report.add_parser(asub)


def audit_verify(args: argparse.Namespace) -> int:
    """Verify the trail; exit 1 and name the first bad event if it was tampered with."""
    report = with_store(settings_of(args), verify_trail)
    if report.ok:
        print(f"audit trail intact: {report.events} events in {report.chains} chains")
        return 0
    bad = report.first_bad
    assert bad is not None  # noqa: S101 - a failed report always names its fault
    print(
        f"audit trail NOT intact after checking {report.events} events: {bad.problem} "
        f"at chain {bad.chain_id} seq {bad.seq}"
        + (f" (event {bad.event_id})" if bad.event_id else "")
    )
    return 1

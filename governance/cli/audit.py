"""`govproxy audit`: work with the audit trail."""

from typing import Any

from governance.cli import audit_proofs, audit_report, audit_retention, audit_review


def add_parser(sub: Any) -> None:
    """Register `audit` and its subcommands."""
    audit = sub.add_parser("audit", help="work with the audit trail")
    asub = audit.add_subparsers(dest="audit_command", required=True)
    audit_proofs.add_parsers(asub)
    audit_review.add_parsers(asub)
    audit_report.add_parser(asub)
    audit_retention.add_parsers(asub)

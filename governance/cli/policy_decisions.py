"""`govproxy policy decisions`: export the decision log as JSON lines.

```
govproxy policy decisions [--since T] [--until T] [--caller NAME] > decisions.jsonl
```

One line per audited policy decision, oldest first, in the shape of an OPA
decision log event (see `governance.policy.decision_log`). Each entry's
revision, input and result are checked against the shape id its (hash-chained)
audit event names: an altered one, or one whose shape is no longer stored
(listed with `input` and `result` null), is reported on stderr and the exit
status is 1; otherwise 0.
"""

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

import orjson

from audit.query import utc_instant
from governance.policy.decision_log import (
    DecisionFilter,
    entry_intact,
    export_decisions,
)
from governance.settings import load_settings
from governance.store import open_store

EPILOG = """\
Each line: decision_id, path ("governance/access/decision"), input (facts only:
caller, purpose, field and tag classes, consent state, minority; never a personal
value), result ({allow, reasons, obligations}), revision and bundles (the bundle
revision that decided), labels, timestamp, requested_by (the caller), audit (its
event: event_id, kind, outcome, reason, decision_shape) and, for an audience
query, admissions ({admitted, excluded: {reason: count}}).
"""


def add_parser(psub: Any) -> None:
    """Register `policy decisions`."""
    parser = psub.add_parser(
        "decisions",
        help="export the decision log as JSON lines (OPA decision log shape)",
        description=__doc__.splitlines()[0],
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--since", help="from this ISO 8601 time (UTC if no offset)")
    parser.add_argument("--until", help="before this ISO 8601 time")
    parser.add_argument("--caller", help="only decisions for this caller")
    parser.set_defaults(run=run_decisions)


def run_decisions(args: argparse.Namespace) -> int:
    """Write every matching entry to stdout; exit 1 if any was altered or missing."""
    config: Path | None = args.config
    settings = load_settings(config)
    selected = DecisionFilter(
        caller=args.caller,
        since=utc_instant(args.since, "--since"),
        until=utc_instant(args.until, "--until"),
    )
    altered = asyncio.run(_export(settings.store_url, selected))
    for found in altered:
        shape = found["audit"]["decision_shape"]
        problem = (
            f"its shape {shape} is not stored: missing"
            if found["input"] is None or found["result"] is None
            else f"its input or result does not match shape {shape}: altered"
        )
        print(
            f"govproxy: decision {found['decision_id']} (event "
            f"{found['audit']['event_id']}): {problem}",
            file=sys.stderr,
        )
    return 1 if altered else 0


async def _export(url: str, selected: DecisionFilter) -> list[dict[str, Any]]:
    store = await open_store(url)
    altered = []
    try:
        async for found in export_decisions(store, selected):
            sys.stdout.write(orjson.dumps(found).decode() + "\n")
            if not entry_intact(found):
                altered.append(found)
    finally:
        await store.dispose()
    return altered

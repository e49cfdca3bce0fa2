"""The self-check report as JSON: the same figures as the page, under a schema version.

`render_json(report)` returns UTF-8 JSON text: `schema` names the format and
its major version (`govproxy.audit.self-check/1`); a consumer refuses a major
version it does not know. Instants are the trail's UTC text, days are Beijing
dates, durations are seconds; subjects appear only as counts and keyed
references, exactly as on the page.
"""

from dataclasses import asdict
from typing import Any

import orjson

from audit.report.figures import SelfCheckReport

SCHEMA_VERSION = 1
SCHEMA = f"govproxy.audit.self-check/{SCHEMA_VERSION}"


def report_document(report: SelfCheckReport) -> dict[str, Any]:
    """The report as plain JSON values, its schema first."""
    return {"schema": SCHEMA, "schema_version": SCHEMA_VERSION, **asdict(report)}


def render_json(report: SelfCheckReport) -> bytes:
    """The report as indented UTF-8 JSON."""
    return orjson.dumps(report_document(report), option=orjson.OPT_INDENT_2)

"""The monthly self-check report (合规自查) over HTTP, for compliance officers.

`GET /v1/audit/reports/self-check?month=YYYY-MM&format=html|json` builds the
report from the store (`audit.report`) and is itself audited (`audit.report`),
like every read of the trail. A month that is malformed, does not exist or has
not begun is refused with problem+json `invalid_month` (422); an unknown or
repeated parameter with `unknown_filter` (422), as every audit route refuses it
(`audit.filters.single_values`): `?month=2026-12&month=2026-11` must not
quietly answer for one of the two months. The HTML page
loads nothing from anywhere, and the response's Content-Security-Policy says so
again.
"""

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from audit.filters import single_values
from audit.report.build import build_report
from audit.report.document import render_json
from audit.report.figures import SelfCheckReport
from audit.report.month import parse_month
from audit.report.page import CSP, render_html
from governance.api.deps import SealerDep, ServicesDep, require
from governance.trail import Trail, audited
from governance.types import Principal, Role

router = APIRouter(prefix="/v1/audit/reports", tags=["audit"])
_OFFICER = require(Role.OFFICER)
_PARAMS = frozenset({"month", "format"})
_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
Month = Annotated[
    str,
    Query(max_length=16, description="The month, `YYYY-MM`, Beijing time."),
]
Format = Annotated[
    Literal["html", "json"],
    Query(alias="format", description="`json` (default) or `html`: one page."),
]


@router.get(
    "/self-check",
    response_class=Response,
    responses={
        200: {
            "content": {"application/json": {}, "text/html": {}},
            "description": "The report, as versioned JSON or one self-contained page.",
        }
    },
)
async def self_check(
    request: Request,
    services: ServicesDep,
    sealer: SealerDep,
    month: Month,
    principal: Principal = _OFFICER,
    output: Format = "json",
) -> Response:
    """The month's self-check: accesses, sensitive use, denials, consent, volume, chain."""
    trail = Trail(kind="audit.report", caller=principal.name)

    async def step() -> SelfCheckReport:
        single_values(request.query_params.multi_items(), _PARAMS)
        chosen = parse_month(month, now=services.now())
        trail.detail |= {"month": chosen.label, "format": output}
        report = await build_report(
            services.store,
            services.catalog,
            chosen,
            services.subject_ref,
            [pem for _, pem in sealer.public_keys],
        )
        trail.detail |= {
            "chain_ok": report.chain.ok,
            "allowed_after_withdrawal": report.consent.violations,
        }
        return report

    report = await audited(services.audit, trail, step)
    headers = _HEADERS | {"X-Decision-Id": trail.decision_id}
    if output == "html":
        page = render_html(report)
        policy = f"{CSP}; frame-ancestors 'none'"
        return HTMLResponse(page, headers=headers | {"Content-Security-Policy": policy})
    return Response(render_json(report), media_type="application/json", headers=headers)

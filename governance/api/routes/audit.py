"""The officer's view of the audit trail: list, export, investigate a breach, verify.

```
GET /v1/audit/events   subject_id caller purpose dataset outcome reason kind since until
                       limit cursor                     newest first, cursor pages
GET /v1/audit/export   format=jsonl|csv since until (both required, <= 366 days)
                       + the event filters              streamed, with a signed manifest
GET /v1/audit/breach   caller since until [resolve=true] what the caller received (K-06)
GET /v1/audit/verify                                    check every chain
```

Officers only. Every call is itself audited: `audit.read`, `audit.export`
(committed before the first byte of the export leaves; the manifest names its
`decision_id`), `audit.breach` and `audit.verify`; a refused one too, with its
code. Query parameters are checked by `audit.filters`, the same rules as the
CLI: an unknown or repeated parameter is refused, not ignored. See
`audit.export` for the two export formats and how an auditor checks them.
"""

from dataclasses import asdict
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from audit.breach_subjects import breach_answer
from audit.export import csv_zip_body, export_meta, jsonl_body
from audit.filters import (
    FILTERS,
    LISTING,
    bounded,
    event_filter,
    page_limit,
    single_values,
)
from audit.query import EventFilter, list_events
from audit.verify import verify_trail
from governance.api.deps import SealerDep, ServicesDep, require
from governance.api.schemas import BreachOut, EventsOut, VerifyOut
from governance.errors import InvalidFilter
from governance.services import Services
from governance.trail import Trail, audited
from governance.types import Principal, Role

router = APIRouter(prefix="/v1/audit", tags=["audit"])
_OFFICER = require(Role.OFFICER)
EXPORT = FILTERS | {"format"}
BREACH = frozenset({"caller", "since", "until", "resolve"})
_FORMATS = {
    "jsonl": ("application/x-ndjson", "jsonl"),
    "csv": ("application/zip", "zip"),
}
_PARAMS = {
    "subject_id": "The subject's id, matched through its keyed reference.",
    "caller": "Caller name.",
    "purpose": "Purpose name.",
    "dataset": "Dataset name.",
    "outcome": "allowed, denied or error.",
    "reason": "Reason code of a refusal, e.g. consent_missing.",
    "kind": "Event kind, e.g. access.read.",
    "since": "From this ISO 8601 instant (UTC without an offset), inclusive.",
    "until": "Before this ISO 8601 instant, exclusive.",
    "limit": "Events per page, 1-1000 (default 100).",
    "cursor": "next_cursor of the previous page, with the same filters.",
    "format": "jsonl (default): JSON lines, the last one the signed manifest; "
    "csv: a ZIP of events.csv and manifest.json.",
    "resolve": "true: resolve subject references to ids through the data source.",
}


def _documented(names: frozenset[str], required: frozenset[str]) -> dict[str, Any]:
    """OpenAPI parameters for a route that reads its query string itself."""
    return {
        "parameters": [
            {
                "name": n,
                "in": "query",
                "required": n in required,
                "schema": {"type": "string"},
                "description": _PARAMS[n],
            }
            for n in sorted(names)
        ]
    }


@router.get(
    "/events",
    response_model=None,
    responses={200: {"model": EventsOut}},
    openapi_extra=_documented(LISTING, frozenset()),
)
async def events(
    request: Request, services: ServicesDep, principal: Principal = _OFFICER
) -> JSONResponse:
    """Audit events matching every given filter, newest first."""
    trail = Trail(kind="audit.read", caller=principal.name)

    async def step() -> dict[str, Any]:
        values = single_values(request.query_params.multi_items(), LISTING)
        selected = event_filter(values, services.subject_ref)
        page, next_cursor = await list_events(
            services.store,
            selected,
            limit=page_limit(values.get("limit")),
            cursor=values.get("cursor"),
        )
        trail.detail |= {
            "filters": {k: v is not None for k, v in asdict(selected).items()},
            "returned": len(page),
        }
        return {"events": page, "next_cursor": next_cursor}

    result = await audited(services.audit, trail, step)
    return JSONResponse(result, headers={"X-Decision-Id": trail.decision_id})


@router.get(
    "/export",
    response_model=None,
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}, "application/zip": {}}}},
    openapi_extra=_documented(EXPORT, frozenset({"since", "until"})),
)
async def export(
    request: Request, services: ServicesDep, principal: Principal = _OFFICER
) -> StreamingResponse:
    """Export the matching events of a range, streamed, with a signed manifest."""
    trail = Trail(kind="audit.export", caller=principal.name)

    async def step() -> tuple[EventFilter, str]:
        values = single_values(request.query_params.multi_items(), EXPORT)
        fmt = values.get("format", "jsonl")
        if fmt not in _FORMATS:
            raise InvalidFilter("format must be jsonl or csv")
        selected = event_filter(values, services.subject_ref)
        bounded(selected)
        trail.detail |= {"format": fmt, "filters": selected.given()}
        return selected, fmt

    selected, fmt = await audited(services.audit, trail, step)
    body = (jsonl_body if fmt == "jsonl" else csv_zip_body)(
        services.store,
        selected,
        meta=export_meta(
            selected, decision_id=trail.decision_id, exporter=principal.name
        ),
        signer=services.audit_signer,
    )
    media_type, suffix = _FORMATS[fmt]
    name = f"audit-export-{trail.decision_id}.{suffix}"
    return StreamingResponse(
        body,
        media_type=media_type,
        headers={
            "X-Decision-Id": trail.decision_id,
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


@router.get(
    "/breach",
    response_model=None,
    responses={200: {"model": BreachOut}},
    openapi_extra=_documented(BREACH, frozenset({"caller", "since", "until"})),
)
async def breach(
    request: Request, services: ServicesDep, principal: Principal = _OFFICER
) -> Response:
    """Which subjects and fields a caller received in a time range (K-06)."""
    trail = Trail(kind="audit.breach", caller=principal.name)

    async def step() -> dict[str, Any]:
        values = single_values(request.query_params.multi_items(), BREACH)
        resolve = _flag(values.get("resolve"))
        return await _investigate(services, trail, values, resolve=resolve)

    result = await audited(services.audit, trail, step)
    return Response(  # orjson: an answer may list a whole customer base
        orjson.dumps(result),
        media_type="application/json",
        headers={"X-Decision-Id": trail.decision_id, "Cache-Control": "no-store"},
    )


async def _investigate(
    services: Services, trail: Trail, values: dict[str, str], *, resolve: bool
) -> dict[str, Any]:
    """The breach answer for checked `values`, noted in `trail` (counts, never ids)."""
    caller = values.get("caller")
    if caller is None:
        raise InvalidFilter("caller is required: whose receipts to investigate")
    selected = event_filter(values, services.subject_ref)
    since, until = bounded(selected)
    trail.detail |= {"filters": selected.given(), "resolve": resolve}
    report, body = await breach_answer(
        services.store,
        services.catalog,
        caller=caller,
        since=since,
        until=until,
        resolve_with=(services.source, services.subject_ref) if resolve else None,
    )
    trail.detail |= {
        "events": sum(report.events.values()),
        "subjects": report.subjects,
        "purged_events": report.purged,
    }
    return body


def _flag(value: str | None) -> bool:
    if value not in (None, "true", "false"):
        raise InvalidFilter("resolve must be true or false")
    return value == "true"


@router.get("/verify", response_model=None, responses={200: {"model": VerifyOut}})
async def verify(
    services: ServicesDep, sealer: SealerDep, principal: Principal = _OFFICER
) -> JSONResponse:
    """Check every chain, every signed checkpoint and every retention tombstone;
    name the first altered, missing or inserted event, checkpoint or purge."""
    trail = Trail(kind="audit.verify", caller=principal.name)

    async def step() -> dict[str, Any]:
        keys = [pem for _, pem in sealer.public_keys]
        report = await verify_trail(services.store, public_keys=keys)
        trail.detail |= {"ok": report.ok, "events": report.events}
        return report.as_json()

    result = await audited(services.audit, trail, step)
    return JSONResponse(result, headers={"X-Decision-Id": trail.decision_id})

"""The data API: what a caller may read, one record, and governed queries.

Every read and query is audited before it is answered, and every answer,
allowed or denied, carries `X-Decision-Id`. `X-Recipient` names the third party
the data is provided to; `X-Approval-Ref` carries the approval of a bulk read.
Both are checked by the policy and kept in the audit event.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse

from governance.api.deps import (
    MAX_PURPOSE,
    AccessHeaders,
    MaybePrincipalDep,
    PurposeHeader,
    ServicesDep,
    bearer,
    require,
)
from governance.api.schemas import QueryIn, QueryOut, RecordOut
from governance.catalog import Catalog, Purpose, TagFact
from governance.catalog.models import NAME, REFERENCE
from governance.errors import InvalidRequest
from governance.pipeline import read_record
from governance.query import QuerySpec, run_query
from governance.services import Services
from governance.trail import Trail, audited
from governance.types import Principal, Role

router = APIRouter(prefix="/v1/datasets", tags=["data"])
MAX_SUBJECT_ID = 128
_ANY_ROLE = require(Role.SERVICE, Role.OFFICER, Role.ADMIN)
RecipientHeader = Annotated[
    str | None,
    Header(
        alias="X-Recipient",
        pattern=NAME,
        description="The registered recipient the data is provided to (PIPL 23).",
    ),
]
ApprovalHeader = Annotated[
    str | None,
    Header(
        alias="X-Approval-Ref",
        pattern=REFERENCE,
        description="Approval of a read above the dataset's bulk threshold (K-02).",
    ),
]


@router.get("")
async def list_datasets(
    services: ServicesDep, principal: Principal = _ANY_ROLE
) -> dict[str, Any]:
    """Datasets with their classified fields and tags, and the purposes that may use each."""
    catalog = services.catalog
    purposes = [
        p
        for p in catalog.purposes.values()
        if principal.role is not Role.SERVICE or p.name in principal.purposes
    ]
    return {
        "datasets": [_describe(catalog, name, purposes) for name in catalog.datasets],
        "purposes": [
            {
                "name": p.name,
                "legal_basis": p.legal_basis,
                "requires_consent": p.requires_consent,
                "description": p.description,
                "pricing": p.pricing,
                "recipients": [_recipient(catalog, r) for r in sorted(p.recipients)],
                "impact_assessment": p.impact_assessment,
            }
            for p in purposes
        ],
    }


def _recipient(catalog: Catalog, name: str) -> dict[str, Any]:
    found = catalog.recipients[name]
    return {
        "name": found.name,
        "legal_name": found.legal_name,
        "country": found.country,
        "cross_border": found.cross_border,
        "transfer_mechanism": found.transfer_mechanism,
    }


def _describe(catalog: Catalog, name: str, purposes: list[Purpose]) -> dict[str, Any]:
    def users(category: str, sensitive: bool) -> list[str]:
        return [
            p.name
            for p in purposes
            if category in (p.sensitive_categories if sensitive else p.categories)
        ]

    ds = catalog.datasets[name]
    tags = catalog.tags.values() if ds.tags else []
    return {
        "name": ds.name,
        "description": ds.description,
        "subject_key": ds.subject_key,
        "fields": [
            {**vars(f), "purposes": users(f.category, f.sensitive)}
            for f in ds.fields.values()
        ],
        "tags": [_tag(t, users(t.category, t.sensitive)) for t in tags],
        "bulk_threshold": ds.bulk_threshold,
    }


def _tag(tag: TagFact, purposes: list[str]) -> dict[str, Any]:
    return {
        "name": tag.name,
        "category": tag.category,
        "sensitive": tag.sensitive,
        "derived_from": sorted({i.category for i in tag.derived_from}),
        "purposes": purposes,
    }


# The read route takes the bare request (FastAPI's per-parameter dependency
# solving cost more than a governed read's consent, policy and masking
# together); these document what it reads by hand, as declared parameters would.
_READ_PARAMETERS = [
    {"name": "dataset", "in": "path", "required": True, "schema": {"type": "string"}},
    {
        "name": "subject_id",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "maxLength": MAX_SUBJECT_ID},
    },
    {
        "name": "X-Purpose",
        "in": "header",
        "description": "Declared processing purpose.",
        "schema": {"type": "string", "maxLength": MAX_PURPOSE},
    },
    {
        "name": "X-Recipient",
        "in": "header",
        "description": "The registered recipient the data is provided to (PIPL 23).",
        "schema": {"type": "string", "pattern": NAME},
    },
    {
        "name": "X-Approval-Ref",
        "in": "header",
        "description": "Approval of a read above the dataset's bulk threshold (K-02).",
        "schema": {"type": "string", "pattern": REFERENCE},
    },
    {
        "name": "fields",
        "in": "query",
        "description": "Comma-separated field names; all when omitted.",
        "schema": {"type": "string"},
    },
]


@router.get(
    "/{dataset}/records/{subject_id}",
    response_model=None,
    responses={200: {"model": RecordOut}},
    openapi_extra={"parameters": _READ_PARAMETERS},
)
async def get_record(request: Request) -> JSONResponse:
    """Read one subject's record for the declared purpose."""
    services: Services = request.app.state.services
    trail = Trail(kind="access.read")
    dataset: str = request.path_params["dataset"]
    subject_id: str = request.path_params["subject_id"]

    principal = await bearer(request, services, request.headers.get("authorization"))

    async def step() -> dict[str, Any]:
        declared = AccessHeaders.of(request)
        if len(subject_id) > MAX_SUBJECT_ID:
            raise InvalidRequest(f"subject ids are at most {MAX_SUBJECT_ID} characters")
        return await read_record(
            services,
            trail,
            principal=principal,
            purpose_name=declared.purpose,
            dataset_name=dataset,
            subject_id=subject_id,
            fields=_split(request.query_params.get("fields")),
            recipient=declared.recipient,
            approval_ref=declared.approval_ref,
        )

    body = await audited(services.audit, trail, step)
    return JSONResponse(body, headers={"X-Decision-Id": trail.decision_id})


def _split(fields: str | None) -> list[str] | None:
    if fields is None:
        return None
    return [f.strip() for f in fields.split(",") if f.strip()]


@router.post(
    "/{dataset}/query",
    response_model=None,
    responses={200: {"model": QueryOut}},
)
async def query(
    dataset: str,
    body: QueryIn,
    services: ServicesDep,
    principal: MaybePrincipalDep,
    purpose: PurposeHeader = None,
    recipient: RecipientHeader = None,
    approval_ref: ApprovalHeader = None,
) -> JSONResponse:
    """Select an audience by tags and read the allowed fields of those who may be included."""
    trail = Trail(kind="access.query")
    spec = QuerySpec(
        fields=body.fields,
        tags_any=body.where.tags_any,
        tags_all=body.where.tags_all,
        limit=body.limit,
        cursor=body.cursor,
        recipient=recipient,
        approval_ref=approval_ref,
    )

    async def step() -> dict[str, Any]:
        return await run_query(
            services,
            trail,
            principal=principal,
            purpose_name=purpose,
            dataset_name=dataset,
            spec=spec,
        )

    result = await audited(services.audit, trail, step)
    return JSONResponse(result, headers={"X-Decision-Id": trail.decision_id})

"""Prometheus metrics: no auth, no personal values (see `governance.observability`)."""

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4

from governance.api.deps import SealerDep, ServicesDep
from governance.observability.exposition import scrape

router = APIRouter(tags=["health"])


@router.get("/metrics", response_class=Response)
async def metrics(sealer: SealerDep, services: ServicesDep) -> Response:
    """Every metric of the proxy in the Prometheus text format; all workers' under `--workers N`.

    Labels carry route templates, statuses, problem codes and bundle revisions,
    never a path, a subject or a caller's input.
    """
    return Response(
        scrape(sealer, services.budget), media_type=CONTENT_TYPE_PLAIN_0_0_4
    )

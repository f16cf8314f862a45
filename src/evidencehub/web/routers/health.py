"""Liveness, readiness and Prometheus metrics (public for probes and scrapers)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from evidencehub.ops.health import liveness, readiness
from evidencehub.ops.metrics import MetricsExporter
from evidencehub.publish.registry import readiness_checks
from evidencehub.web.deps import Services, public, require

router = APIRouter(tags=["health"])


@router.get("/health", dependencies=[Depends(public)], summary="Liveness: the process answers")
def health() -> dict[str, Any]:
    return liveness()


@router.get(
    "/health/ready",
    dependencies=[Depends(public)],
    summary="Readiness: database, queue, disk, memory, and the targets promotions publish to",
    responses={503: {"description": "A check failed"}},
)
def health_ready(app: Services) -> JSONResponse:
    body = readiness(app.database, app.settings, readiness_checks(app.settings))
    return JSONResponse(body, status_code=503 if body["status"] == "fail" else 200)


@router.get(
    "/metrics",
    dependencies=[Depends(public)],
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}},
)
def metrics(request: Request, app: Services) -> Response:
    if not app.settings.web.metrics_public:
        require("security:read")(request)
    exporter: MetricsExporter | None = getattr(request.app.state, "metrics", None)
    if exporter is None:
        exporter = MetricsExporter(app.database, app.settings)
        request.app.state.metrics = exporter
    return Response(exporter.render(), media_type=exporter.content_type)

"""dashboard: wiring only. Two read-only routes, `/` (HTML) and `/api/overview` (the same data
as JSON), inside the common runtime, which adds /health/live, /health/ready and /status.

The runtime's broker has no subscribers and publishes nothing; it only gives the dashboard the
same Kafka readiness check and start-up behaviour as every service.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from services.common.kafka import make_broker
from services.common.runtime import Service
from services.common.settings import DashboardSettings, KafkaSettings
from services.dashboard.collect import OverviewSource
from services.dashboard.render import render_page

NAME = "dashboard"
DEFAULT_PORT = 8080


def build() -> Service:
    kafka = KafkaSettings()
    settings = DashboardSettings()
    source = OverviewSource(kafka, settings, max_age_s=min(2.0, settings.refresh_s / 2))

    async def page(_: Request) -> Response:
        overview = await source.get()
        return HTMLResponse(
            render_page(overview, settings.refresh_s, source.history),
            headers={"Cache-Control": "no-store"},
        )

    async def api(_: Request) -> Response:
        overview = await source.get()
        return JSONResponse(overview.model_dump(mode="json"), headers={"Cache-Control": "no-store"})

    def status() -> dict[str, Any]:
        return {"services": settings.service_urls(), "readings_taken": source.readings_taken}

    return Service(
        name=NAME,
        default_port=DEFAULT_PORT,
        broker=make_broker(kafka, client_id=NAME),
        kafka=kafka,
        routes=[Route("/", page), Route("/api/overview", api)],
        status=status,
    )

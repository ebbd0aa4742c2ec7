"""Runs one service: an HTTP app (health, webhooks) around a FastStream Kafka broker.

Why not `faststream run`: a FastStream app fails its start-up when Kafka is unreachable, and a
container would crash-loop. Here the HTTP side comes up at once, `/health/ready` says 503 with
the reason, and a background loop connects (creating missing topics first) with backoff, logging
one line per attempt with the address it tried. Ctrl-C / SIGTERM stop the background tasks and
then the broker, which lets in-flight handlers finish (graceful_timeout).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from faststream.kafka import KafkaBroker
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from services.common.connection import ensure_catalog_topics
from services.common.lags import LagSampler
from services.common.logging import configure_logging, get_logger
from services.common.settings import HttpSettings, KafkaSettings

log = get_logger(__name__)

ReadinessCheck = Callable[[], Awaitable[str | None]]  # returns why not ready, or None


@dataclass
class Service:
    name: str
    default_port: int
    broker: KafkaBroker
    kafka: KafkaSettings
    routes: list[BaseRoute] = field(default_factory=list)
    on_connected: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    background: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    readiness: list[ReadinessCheck] = field(default_factory=list)
    status: Callable[[], dict[str, Any]] | None = None
    consumer_groups: list[str] = field(default_factory=list)
    """Groups of consumers outside the broker (plain aiokafka loops) whose lag `/metrics`
    reports; the broker's own subscribers are found by themselves."""

    def all_consumer_groups(self) -> list[str]:
        groups = [getattr(s, "group_id", None) for s in self.broker.subscribers]
        return [g for g in [*groups, *self.consumer_groups] if g]


@dataclass
class _State:
    connected: bool = False
    last_error: str | None = "not connected yet"
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


async def _create_topics(kafka: KafkaSettings) -> None:
    created = await ensure_catalog_topics(kafka)
    if created:
        log.info("created topics", topics=created)


async def _connect_forever(service: Service, state: _State) -> None:
    delay, attempt = 1.0, 0
    while True:
        attempt += 1
        try:
            await _create_topics(service.kafka)
            await service.broker.start()
            break
        except Exception as exc:
            state.last_error = f"Kafka unreachable at {service.kafka.bootstrap_servers}: {exc}"
            log.warning(
                "kafka unreachable, retrying",
                address=service.kafka.bootstrap_servers,
                attempt=attempt,
                retry_in_s=delay,
                error=str(exc),
            )
            with contextlib.suppress(Exception):
                await service.broker.stop()
            await asyncio.sleep(delay)
            delay = min(delay * 2, service.kafka.connect_retry_max_s)
    for hook in service.on_connected:
        await hook()
    state.connected, state.last_error = True, None
    log.info("connected to kafka", address=service.kafka.bootstrap_servers, attempts=attempt)
    lag_sampler = LagSampler(service.kafka, service.all_consumer_groups())
    for job in [*service.background, lag_sampler.run]:
        state.tasks.append(asyncio.create_task(_supervised(job)))


async def _supervised(job: Callable[[], Awaitable[None]]) -> None:
    """Keep a background loop alive: log and restart after an unexpected error."""
    while True:
        try:
            await job()
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("background task failed; restarting in 5 s", task=job.__qualname__)
            await asyncio.sleep(5)


def build_app(service: Service) -> Starlette:
    state = _State()

    async def live(_: Request) -> Response:
        return JSONResponse({"status": "live", "service": service.name})

    async def ready(_: Request) -> Response:
        reasons = [] if state.connected else [state.last_error or "not connected"]
        if state.connected and not await service.broker.ping(timeout=3.0):
            reasons.append(f"Kafka at {service.kafka.bootstrap_servers} does not answer")
        for check in service.readiness:
            reason = await check()
            if reason:
                reasons.append(reason)
        body = {"status": "not ready" if reasons else "ready", "service": service.name}
        if reasons:
            body["reasons"] = reasons  # type: ignore[assignment]
        return JSONResponse(body, status_code=503 if reasons else 200)

    async def status(_: Request) -> Response:
        extra = service.status() if service.status else {}
        return JSONResponse({"service": service.name, "connected": state.connected, **extra})

    async def metrics(_: Request) -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        connector = asyncio.create_task(_connect_forever(service, state))
        try:
            yield
        finally:
            connector.cancel()
            for task in state.tasks:
                task.cancel()
            await asyncio.gather(connector, *state.tasks, return_exceptions=True)
            await service.broker.stop()
            log.info("stopped", service=service.name)

    routes: list[BaseRoute] = [
        Route("/health/live", live),
        Route("/health/ready", ready),
        Route("/status", status),
        Route("/metrics", metrics),
        *service.routes,
    ]
    return Starlette(routes=routes, lifespan=lifespan)


def run(factory: Callable[[], Service]) -> None:
    """Entry point of `python -m services.<name>`."""
    service = factory()
    configure_logging(service.name)
    http = HttpSettings()
    port = http.port or service.default_port
    log.info("starting", service=service.name, host=http.host, port=port)
    uvicorn.run(build_app(service), host=http.host, port=port, log_config=None, access_log=False)

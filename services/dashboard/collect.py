"""Reading what the dashboard shows: each service's /health/ready and /status over HTTP, and
from Kafka the lag per group, the dead-letter depths (syncctl's own functions), the newest dead
letters and the recent tail of the ledger and push topics. Nothing here writes anywhere.

Viewers share one reading: it is reused for `max_age_s`, and concurrent requests wait for the
one in progress instead of starting their own, so a few open browser tabs cost no more than one.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import httpx
from aiokafka import ConsumerRecord

from schemas.topics import Topics, all_specs
from services.common.dead_letters import DeadLetter, read_dead_letters, redriven_positions
from services.common.lags import GroupLag, dead_letter_depths, group_lags
from services.common.logging import get_logger
from services.common.readers import read_records
from services.common.settings import DashboardSettings, KafkaSettings
from services.dashboard.history import MetricsHistory
from services.dashboard.overview import (
    Limits,
    Overview,
    RawRecord,
    Readings,
    ServiceCheck,
    assemble,
)

log = get_logger(__name__)

HTTP_TIMEOUT_S = 2.0
KAFKA_TIMEOUT_S = 8.0


async def check_service(client: httpx.AsyncClient, name: str, url: str) -> ServiceCheck:
    """A service's readiness (with its reasons) and its /status, or why it could not be asked."""
    try:
        ready = await client.get(f"{url}/health/ready", timeout=HTTP_TIMEOUT_S)
    except httpx.HTTPError as exc:
        why = str(exc) or type(exc).__name__
        return ServiceCheck(name=name, url=url, state="down", reasons=[f"unreachable: {why}"])
    body = _json_object(ready)
    reasons = [str(r) for r in body.get("reasons", [])] if body else []
    if ready.status_code != 200 and not reasons:
        reasons = [f"/health/ready answered {ready.status_code}"]
    status: dict[str, Any] | None = None
    try:
        status = _json_object(await client.get(f"{url}/status", timeout=HTTP_TIMEOUT_S))
    except httpx.HTTPError:
        reasons.append("/status did not answer")
    state = "ready" if ready.status_code == 200 else "not ready"
    return ServiceCheck(name=name, url=url, state=state, reasons=reasons, status=status)


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _raw(record: ConsumerRecord) -> RawRecord:
    return RawRecord(key=record.key, value=record.value, timestamp_ms=record.timestamp)


async def read_kafka(kafka: KafkaSettings, limits: Limits) -> Readings:
    ns = kafka.topic_namespace
    topics = Topics(ns)
    lags, depths, orders, pushes = await asyncio.gather(
        group_lags(kafka, {f"{ns}{spec.name}" for spec in all_specs()}),
        dead_letter_depths(kafka),
        read_records(kafka, topics.orders_synced, limits.recent_records),
        read_records(kafka, topics.stock_pushed, limits.recent_records),
    )
    with_letters = [topic for topic, depth in depths.items() if depth]
    redriven: dict[str, set[str]] = {}
    letters: list[DeadLetter] = []
    for topic in with_letters:
        redriven[topic] = await redriven_positions(kafka, topic)
        letters += await read_dead_letters(kafka, topic, limits.dead_letters_shown)
    return Readings(
        namespace=ns,
        services=[],
        lags=lags,
        depths=depths,
        redriven=redriven,
        dead_letters=letters,
        orders=[_raw(r) for r in orders],
        pushes=[_raw(r) for r in pushes],
    )


async def read_everything(
    kafka: KafkaSettings, settings: DashboardSettings, limits: Limits
) -> Readings:
    async with httpx.AsyncClient() as client:
        checks_task = asyncio.gather(
            *(check_service(client, n, u) for n, u in settings.service_urls().items())
        )
        try:
            readings = await asyncio.wait_for(read_kafka(kafka, limits), KAFKA_TIMEOUT_S)
        except Exception as exc:  # shown on the page; the dashboard must outlive a Kafka outage
            why = "no answer within 8 s" if isinstance(exc, TimeoutError) else str(exc)
            log.warning("could not read kafka", address=kafka.bootstrap_servers, error=why)
            readings = _without_kafka(kafka, f"{kafka.bootstrap_servers}: {why}")
        readings.services = list(await checks_task)
    return readings


def _without_kafka(kafka: KafkaSettings, error: str) -> Readings:
    no_lags: list[GroupLag] = []
    return Readings(
        namespace=kafka.topic_namespace,
        services=[],
        lags=no_lags,
        depths={},
        redriven={},
        dead_letters=[],
        orders=[],
        pushes=[],
        kafka_error=error,
    )


class OverviewSource:
    """One shared, briefly cached reading for every viewer."""

    def __init__(
        self, kafka: KafkaSettings, settings: DashboardSettings, max_age_s: float = 2.0
    ) -> None:
        self.kafka, self.settings, self.max_age_s = kafka, settings, max_age_s
        self.limits = Limits(
            recent_records=settings.recent_records,
            dead_letters_shown=settings.dead_letters_shown,
            lag_warning=settings.lag_warning,
            lag_age_warning_s=settings.lag_age_warning_s,
            syncctl=settings.syncctl_command,
        )
        self._lock = asyncio.Lock()
        self._last: tuple[float, Overview] | None = None
        self.readings_taken = 0
        self.history = MetricsHistory()

    async def get(self) -> Overview:
        async with self._lock:
            if self._last and time.monotonic() - self._last[0] < self.max_age_s:
                return self._last[1]
            readings = await read_everything(self.kafka, self.settings, self.limits)
            async with httpx.AsyncClient() as client:
                await self.history.sample(client, self.settings.service_urls())
            overview = assemble(readings, self.limits, datetime.now(UTC))
            self._last = (time.monotonic(), overview)
            self.readings_taken += 1
            return overview

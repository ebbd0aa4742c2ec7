"""The dashboard as a process (started like `make run` starts it), on the real broker: it shows
the lag of a consumer group, the dead-letter depth with the reasons and the re-drive commands,
the recent ledger and push records, and each service's health. It keeps rendering when the
services, or Kafka itself, are down.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from html import escape
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from infra.simulators.common import free_port
from schemas.orders import OrderSynced
from schemas.stock import StockPushed
from schemas.topics import Topics
from services.common.connection import topic_partitions
from services.common.settings import KafkaSettings
from services.syncctl.dead_letters import redrive
from tests.fixtures.kafka import unique
from tests.fixtures.services import StartService
from tests.support import eventually
from tests.unit.test_audit_lines import order, push

REASON = "MissingBinding: no Rackbeat item bound to SKU 'BRD-0002' (Shopbox product 100002) yet"
OTHER_REASON = "ApiError: 422 <line 1> location 9 unknown"


@pytest.fixture
async def producer(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    client = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, enable_idempotence=True)
    await client.start()
    yield client
    await client.stop()


def synced(basket: str, outcome: str, at: datetime) -> bytes:
    event = order()
    payload = event.payload.model_copy(
        update={"basket_id": basket, "outcome": outcome, "synced_at": at}
    )
    return (
        OrderSynced.model_validate(event.model_copy(update={"payload": payload}))
        .model_dump_json()
        .encode()
    )


def pushed(sku: str, branch: str, quantity: int, at: datetime) -> bytes:
    event = push()
    payload = event.payload.model_copy(
        update={"sku": sku, "branch_id": branch, "quantity": Decimal(quantity), "pushed_at": at}
    )
    return (
        StockPushed.model_validate(event.model_copy(update={"payload": payload}))
        .model_dump_json()
        .encode()
    )


async def dead_letter(producer: AIOKafkaProducer, ns: str, key: bytes, reason: str) -> str:
    topics = Topics(ns)
    meta = await producer.send_and_wait(
        f"{topics.sales}.dlq",
        b'{"type": "SaleCompleted"}',
        key=key,
        headers=[
            ("x-dlq-reason", reason.encode()),
            ("x-dlq-origin-topic", topics.sales.encode()),
            ("x-dlq-origin", f"{topics.sales}/0/7".encode()),
            ("x-dlq-attempts", b"5"),
            ("x-dlq-failed-at", datetime.now(UTC).isoformat().encode()),
        ],
    )
    return f"{meta.partition}/{meta.offset}"


async def commit_at_start(bootstrap: str, group: str, topic: str) -> None:
    """A consumer group that has read nothing of `topic`: its lag is the whole topic."""
    partitions = await topic_partitions(KafkaSettings(bootstrap_servers=bootstrap), topic)
    tps = [TopicPartition(topic, p) for p in partitions]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign(tps)
        await consumer.commit(dict.fromkeys(tps, 0))
    finally:
        await consumer.stop()


@pytest.fixture
def closed_urls() -> Iterator[dict[str, str]]:
    """Every service's URL on a port bound but never listening, held for the whole test: a
    port that was merely free when chosen can be taken by another process meanwhile (CI once
    saw such a port answer 200)."""
    names = ("ORDER_INGEST", "ORDER_WRITER", "STOCK_PUBLISHER", "ITEM_MAPPER")
    with contextlib.ExitStack() as held:
        urls = {}
        for name in names:
            sock = held.enter_context(socket.socket())
            sock.bind(("127.0.0.1", 0))
            urls[f"DASHBOARD_{name}_URL"] = f"http://127.0.0.1:{sock.getsockname()[1]}"
        yield urls


async def get(url: str) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.get(url, timeout=20)


async def test_dashboard_shows_lag_dead_letters_recent_records_and_health(
    start_service: StartService,
    topic_namespace: str,
    producer: AIOKafkaProducer,
    kafka_bootstrap: str,
    closed_urls: dict[str, str],
) -> None:
    ns, topics = topic_namespace, Topics(topic_namespace)
    now = datetime.now(UTC)
    first = now - timedelta(minutes=10)
    for basket, outcome, at in (("b-1", "created", first), ("b-2", "cancelled", now)):
        await producer.send_and_wait(
            topics.orders_synced,
            synced(basket, outcome, at),
            basket.encode(),
            timestamp_ms=int(at.timestamp() * 1000),  # the age of the oldest waiting record
        )
    await producer.send_and_wait(topics.orders_synced, b"not json", b"b-bad")
    await producer.send_and_wait(
        topics.stock_pushed, pushed("KAFFE-1", "1", 7, first), b"KAFFE-1|1"
    )
    await producer.send_and_wait(topics.stock_pushed, pushed("TE-2", "2", 3, now), b"TE-2|2")
    waiting = await dead_letter(producer, ns, b"basket-41", REASON)
    fixed = await dead_letter(producer, ns, b"basket-42", OTHER_REASON)
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap, topic_namespace=ns)
    assert len((await redrive(kafka, "shopbox.sales.v1", positions=[fixed])).redriven) == 1
    group = unique("ops-lagging")
    await commit_at_start(kafka_bootstrap, group, topics.orders_synced)

    items = await start_service(
        "item-mapper", env={"KAFKA_TOPIC_NAMESPACE": ns, "SYNC_ITEM_MASTER": "none"}
    )
    urls = closed_urls | {"DASHBOARD_ITEM_MAPPER_URL": items.url}
    env = {"KAFKA_TOPIC_NAMESPACE": ns, "DASHBOARD_LAG_WARNING": "3", **urls}
    dashboard = await start_service("dashboard", env=env)

    response = await get(f"{dashboard.url}/api/overview")
    assert response.status_code == 200
    overview: dict[str, Any] = response.json()
    assert overview["kafka_error"] is None and overview["namespace"] == ns
    sales, stock, item_view = (overview["directions"][d] for d in ("sales", "stock", "items"))

    # Lag: the group has read none of the 3 ledger records.
    assert {(r["group"], r["topic"], r["lag"]) for r in sales["lags"]} == {
        (group, "orders.synced.v1", 3)
    }
    assert f"group {group} is 3 records behind on orders.synced.v1" in sales["problems"]
    (lag,) = sales["lags"]
    oldest = datetime.fromisoformat(lag["oldest_waiting_at"])
    assert abs(oldest - first) < timedelta(milliseconds=1)  # Kafka keeps milliseconds
    assert 600 <= lag["waiting_s"] < 700
    assert (
        f"group {group}: the oldest unprocessed record on orders.synced.v1 arrived 10 min ago"
        in sales["problems"]
    )
    # Dead letters: 2 written, 1 re-driven; the newest with its reason and command.
    assert sales["dead_letter_depths"] == [
        {"topic": "shopbox.sales.v1.dlq", "records": 2, "waiting": 1}
    ]
    letters = {d["position"]: d for d in sales["dead_letters"]}
    assert letters[waiting]["reason"] == REASON and not letters[waiting]["redriven"]
    assert letters[waiting]["key"] == "basket-41"
    assert letters[waiting]["command"] == (
        f"KAFKA_TOPIC_NAMESPACE={ns} .venv/bin/syncctl dlq redrive --topic shopbox.sales.v1 "
        f"--offset {waiting}"
    )
    assert letters[fixed]["redriven"] and letters[fixed]["reason"] == OTHER_REASON
    # Recent activity, newest first, the unreadable record shown too.
    assert [(r["subject"], r["outcome"]) for r in sales["recent"]] == [
        ("b-bad", "unreadable"),
        ("basket b-2", "cancelled"),
        ("basket b-1", "created"),
    ]
    assert datetime.fromisoformat(sales["last_success_at"]) == now
    assert [(r["subject"], r["outcome"]) for r in stock["recent"]] == [
        ("SKU TE-2 @ branch 2", "set to 3 (was unknown)"),
        ("SKU KAFFE-1 @ branch 1", "set to 7 (was unknown)"),
    ]
    assert datetime.fromisoformat(stock["last_success_at"]) == now
    assert set(stock["last_success_per_branch"]) == {"1", "2"}
    # Health: sales and stock services are down, item-mapper answers ready with its /status.
    assert sales["state"] == stock["state"] == "down"
    assert {s["name"]: s["state"] for s in sales["services"]} == {
        "order-ingest": "down",
        "order-writer": "down",
    }
    (mapper,) = item_view["services"]
    assert mapper["state"] == "ready" and mapper["status"]["item_master"] == "none"
    assert item_view["state"] == "ok"

    page = await get(dashboard.url)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    for text in (
        "oldest waiting",
        escape(REASON),
        escape(OTHER_REASON),  # '<line 1>' arrives escaped
        f"syncctl dlq redrive --topic shopbox.sales.v1 --offset {waiting}",
        "basket b-2",
        "SKU KAFFE-1 @ branch 1",
        "set to 3 (was unknown)",
        escape(group),
        "order-writer is down",
    ):
        assert text in html, text
    assert "<line 1>" not in html


async def test_page_renders_with_every_service_down_and_no_records(
    start_service: StartService, topic_namespace: str, closed_urls: dict[str, str]
) -> None:
    env = {"KAFKA_TOPIC_NAMESPACE": topic_namespace, **closed_urls}
    dashboard = await start_service("dashboard", env=env)
    overview = (await get(f"{dashboard.url}/api/overview")).json()
    for view in overview["directions"].values():
        assert view["state"] == "down"
        assert all(s["state"] == "down" for s in view["services"])
        assert all(s["reasons"][0].startswith("unreachable") for s in view["services"])
        assert view["lags"] == [] and view["dead_letters"] == [] and view["recent"] == []
    assert overview["directions"]["sales"]["last_success_at"] is None
    page = await get(dashboard.url)
    assert page.status_code == 200
    assert page.text.count("class='badge down'>down</span>") >= 4 + 3  # services + directions
    assert "no records yet" in page.text and "last order synced: never" in page.text


async def test_page_renders_while_kafka_is_unreachable(
    start_service: StartService, closed_urls: dict[str, str]
) -> None:
    nowhere = f"127.0.0.1:{free_port()}"
    env = {"KAFKA_BOOTSTRAP_SERVERS": nowhere, **closed_urls}
    dashboard = await start_service("dashboard", env=env, ready=False)

    async def live() -> bool:
        try:
            return (await get(f"{dashboard.url}/health/live")).status_code == 200
        except httpx.HTTPError:
            return False

    await eventually(live, timeout=30, every=0.2)
    assert (await get(f"{dashboard.url}/health/ready")).status_code == 503
    overview = (await get(f"{dashboard.url}/api/overview")).json()
    assert nowhere in overview["kafka_error"]
    assert all(v["state"] == "down" for v in overview["directions"].values())
    page = await get(dashboard.url)
    assert page.status_code == 200 and "Kafka unreachable" in page.text

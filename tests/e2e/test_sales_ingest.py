"""order-ingest as a process: the webhook's 4xx answers, the durable poll cursor across a
restart, and the reconciliation sweep on its own (no webhook, no poll)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from schemas.sales import SaleCancelled, sales_event_adapter
from schemas.topics import Topics
from tests.e2e.sales_harness import build_catalog, publish_bindings, service_env
from tests.fixtures.rackbeat_sim import RackbeatSim
from tests.fixtures.services import StartService
from tests.fixtures.shopbox_sim import ShopboxSim, demo_shop
from tests.support import eventually

SECRET = "ingest-hook-secret"
PROFILES = ("evidence", "strict", "legacy")


async def sales_records(bootstrap: str, admin: AIOKafkaAdminClient, topic: str) -> list[Any]:
    """Every event on the sales topic so far, decoded."""
    (description,) = await admin.describe_topics([topic])
    tps = [TopicPartition(topic, p["partition"]) for p in description["partitions"]]
    # "earliest": the reset on assignment must not undo the seek (integration/test_readers.py).
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        events: list[Any] = []
        while any([await consumer.position(tp) < ends[tp] for tp in tps]):
            for records in (await consumer.getmany(timeout_ms=500)).values():
                events.extend(sales_event_adapter.validate_json(r.value) for r in records)
        return events
    finally:
        await consumer.stop()


async def test_webhook_refuses_bad_input_with_a_reason_and_publishes_nothing(
    kafka_bootstrap: str,
    kafka_admin: AIOKafkaAdminClient,
    topic_namespace: str,
    start_service: StartService,
    shopbox_sim: ShopboxSim,
    rackbeat_sim: RackbeatSim,
) -> None:
    env = service_env(
        topic_namespace, shopbox_sim, rackbeat_sim, SECRET, ORDER_INGEST_POLL_ENABLED="false"
    )
    ingest = await start_service("order-ingest", env)
    url = f"{ingest.url}/webhooks/shopbox"
    good = {"event": "basket.created", "basket_uid": 1}
    async with httpx.AsyncClient() as http:
        cases = [
            (await http.post(url, json=good), 401, "shopbox_hook_id"),
            (await http.post(url, params={"shopbox_hook_id": "wrong"}, json=good), 401, "wrong"),
            (
                await http.post(url, params={"shopbox_hook_id": SECRET}, content=b"{nope"),
                400,
                "not valid UTF-8 JSON",
            ),
            (
                await http.post(url, params={"shopbox_hook_id": SECRET}, json={"event": "x"}),
                422,
                "basket_uid",
            ),
            (
                await http.post(url, params={"shopbox_hook_id": SECRET}, json=good),
                422,
                "does not exist",
            ),
        ]
        for response, status, reason in cases:
            assert response.status_code == status, response.text
            assert reason in response.json()["error"]
            assert SECRET not in response.text
        sale = await shopbox_sim.sale(1, [{"sku": "BRD-0002", "quantity": 1}])
        # The body lies about the content: only the uid is used, the basket is fetched.
        lie = {"event": "basket.created", "basket_uid": sale["uid"], "items": [{"quantity": 99}]}
        ok = await http.post(url, params={"shopbox_hook_id": SECRET}, json=lie)
    assert ok.status_code == 200 and ok.json()["published"] == ["SaleCompleted"]
    events = await sales_records(kafka_bootstrap, kafka_admin, Topics(topic_namespace).sales)
    assert [e.payload.basket_id for e in events] == [str(sale["uid"])]
    assert events[0].payload.lines[0].quantity == 1
    assert SECRET not in ingest.log_tail(400)


async def test_poll_cursor_survives_a_restart_without_missing_or_flooding(
    kafka_bootstrap: str,
    kafka_admin: AIOKafkaAdminClient,
    topic_namespace: str,
    start_service: StartService,
    shopbox_sim: ShopboxSim,
    rackbeat_sim: RackbeatSim,
) -> None:
    env = service_env(
        topic_namespace, shopbox_sim, rackbeat_sim, SECRET, ORDER_INGEST_SWEEP_INTERVAL_S="600"
    )
    topic = Topics(topic_namespace).sales
    ingest = await start_service("order-ingest", env)
    first = [await shopbox_sim.sale(1, [{"sku": "BRD-0002", "quantity": 1}]) for _ in range(5)]

    async def published(n: int) -> bool:
        return len(await sales_records(kafka_bootstrap, kafka_admin, topic)) >= n

    await eventually(lambda: published(5), timeout=20, every=0.3)
    ingest.terminate()
    later = [await shopbox_sim.sale(2, [{"sku": "BRD-0002", "quantity": 2}]) for _ in range(3)]
    await ingest.restart()
    await eventually(lambda: published(8), timeout=20, every=0.3)
    await asyncio.sleep(2)  # several more polls: nothing may be published again
    events = await sales_records(kafka_bootstrap, kafka_admin, topic)
    assert sorted(e.payload.basket_id for e in events) == sorted(
        str(b["uid"]) for b in first + later
    )


async def test_the_sweep_alone_finds_sales_and_stops_once_the_ledger_has_them(
    kafka_bootstrap: str,
    kafka_admin: AIOKafkaAdminClient,
    topic_namespace: str,
    group_id: str,
    start_service: StartService,
    shopbox_sim: ShopboxSim,
    rackbeat_sim: RackbeatSim,
) -> None:
    catalog = build_catalog(demo_shop())
    await rackbeat_sim.seed(catalog.rackbeat_seed)
    await publish_bindings(kafka_bootstrap, topic_namespace, catalog.items)
    env = service_env(
        topic_namespace,
        shopbox_sim,
        rackbeat_sim,
        SECRET,
        ORDER_INGEST_POLL_ENABLED="false",
        ORDER_INGEST_SWEEP_INTERVAL_S="1",
        ORDER_INGEST_SWEEP_GRACE_S="0",
        ORDER_WRITER_GROUP_ID=group_id,
    )
    await start_service("order-ingest", env)
    await start_service("order-writer", env)
    for item in catalog.items[:4]:
        line: dict[str, Any] = {"product": item.product, "quantity": 1}
        if item.variant is not None:
            line["product_variance"] = item.variant
        await shopbox_sim.sale(1, [line])
    orders = rackbeat_sim.state.store.orders
    await eventually(lambda: len(orders) == 4, timeout=30)
    topic = Topics(topic_namespace).sales
    await asyncio.sleep(2.5)  # let sweeps that raced the ledger finish
    settled = len(await sales_records(kafka_bootstrap, kafka_admin, topic))
    await asyncio.sleep(3)  # three more sweeps: the ledger has every sale now
    assert len(await sales_records(kafka_bootstrap, kafka_admin, topic)) == settled
    assert len(orders) == 4


@pytest.mark.covers_profiles
@pytest.mark.parametrize("shopbox_sim", PROFILES, indirect=True)
async def test_either_push_shape_gets_the_sale_published_once_without_scheduled_polls(
    kafka_bootstrap: str,
    kafka_admin: AIOKafkaAdminClient,
    topic_namespace: str,
    start_service: StartService,
    shopbox_sim: ShopboxSim,
    rackbeat_sim: RackbeatSim,
) -> None:
    """A basket event is fetched and published by the webhook; an `updateInventory` push (units
    sold, no basket) is answered 202 and starts the one poll that finds the sale, and the sweep
    when units came back (a void)."""
    env = service_env(
        topic_namespace,
        shopbox_sim,
        rackbeat_sim,
        SECRET,
        ORDER_INGEST_POLL_ENABLED="false",
        ORDER_INGEST_SWEEP_INTERVAL_S="600",
    )
    ingest = await start_service("order-ingest", env)
    await shopbox_sim.set_webhook(f"{ingest.url}/webhooks/shopbox", SECRET)
    sale = await shopbox_sim.sale(1, [{"sku": "BRD-0002", "quantity": 2}])
    topic = Topics(topic_namespace).sales

    async def published() -> bool:
        return bool(await sales_records(kafka_bootstrap, kafka_admin, topic))

    await eventually(published, timeout=20, every=0.3)
    await shopbox_sim.webhooks_idle()
    await asyncio.sleep(1)  # a second publish of the same sale would show by now
    events = await sales_records(kafka_bootstrap, kafka_admin, topic)
    assert [e.payload.basket_id for e in events] == [str(sale["uid"])]
    units = shopbox_sim.state.switches["push_body"] == "update_inventory"
    assert events[0].source == ("order-ingest/poll" if units else "order-ingest/webhook")
    webhooks = (await shopbox_sim.summary())["webhooks"]
    assert (webhooks["delivered"], webhooks["failed_attempts"]) == (1, 0)

    # A void changes an old basket, which the poll never re-reads: a basket event names it, and
    # an updateInventory push (units back) wakes the sweep, whose next turn is 10 min away here.
    await shopbox_sim.cancel(sale["uid"])

    async def voided() -> bool:
        events = await sales_records(kafka_bootstrap, kafka_admin, topic)
        return any(isinstance(e, SaleCancelled) for e in events)

    await eventually(voided, timeout=20, every=0.3)

"""The sales direction end to end: Shopbox simulator -> order-ingest -> Kafka -> order-writer ->
Rackbeat simulator, with both services as real processes (as `make run` starts them).

Counts: 500 sales through lossy, duplicated and reordered webhooks, a rebalance, a SIGKILL and a
replay; 100 through Rackbeat faults (5xx before and after the write, 429 bursts), to keep that
one short. Latency is measured by `tests/bench/bench_sales.py`, not here.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from schemas.topics import Topics, dlq_name
from services.common.dead_letters import DeadLetter, read_dead_letters
from services.common.settings import KafkaSettings
from tests.e2e.sales_harness import (
    Catalog,
    build_catalog,
    check_orders,
    orders_by_reference,
    publish_bindings,
    sale_lines,
    service_env,
)
from tests.fixtures.rackbeat_sim import RackbeatSim
from tests.fixtures.services import REPO, RunningService, StartService
from tests.fixtures.shopbox_sim import ShopboxSim, demo_shop
from tests.support import eventually

HOOK_SECRET = "e2e-hook-secret"


@dataclass
class Pipeline:
    """order-ingest and order-writer running as processes on the demo catalog."""

    catalog: Catalog
    env: dict[str, str]
    ingest: RunningService
    writer: RunningService


StartPipeline = Callable[..., Awaitable[Pipeline]]


@pytest.fixture
def start_pipeline(
    kafka_bootstrap: str,
    topic_namespace: str,
    group_id: str,
    start_service: StartService,
    shopbox_sim: ShopboxSim,
    rackbeat_sim: RackbeatSim,
) -> StartPipeline:
    """Seed Rackbeat with the demo catalog, bind it, and start both services (`settings` are
    extra environment for them)."""

    async def start(**settings: str) -> Pipeline:
        catalog = build_catalog(demo_shop())
        await rackbeat_sim.seed(catalog.rackbeat_seed)
        await rackbeat_sim.set_faults(rate_limit_per_minute=None)
        await publish_bindings(kafka_bootstrap, topic_namespace, catalog.items)
        env = service_env(
            topic_namespace,
            shopbox_sim,
            rackbeat_sim,
            HOOK_SECRET,
            ORDER_WRITER_GROUP_ID=group_id,
            **settings,
        )
        ingest = await start_service("order-ingest", env)
        writer = await start_service("order-writer", env)
        return Pipeline(catalog, env, ingest, writer)

    return start


async def sales_offsets_committed(
    kafka_bootstrap: str, admin: AIOKafkaAdminClient, topic: str, group: str
) -> bool:
    (description,) = await admin.describe_topics([topic])
    tps = [TopicPartition(topic, p["partition"]) for p in description["partitions"]]
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(tps)
    finally:
        await consumer.stop()
    committed = await admin.list_consumer_group_offsets(group)
    assert ends and sum(ends.values()) > 0
    return all(tp in committed and committed[tp].offset >= end for tp, end in ends.items())


async def stock_at_location_1(rackbeat: RackbeatSim, sku: str) -> tuple[Decimal, ...]:
    client = rackbeat.client()
    try:
        rows = {row.location.number: row for row in await client.item_stock(sku)}
    finally:
        await client.aclose()
    row = rows[1]
    return row.stock_quantity, row.in_order_quantity, row.available_quantity


async def writer_status(url: str) -> dict[str, Any]:
    async with httpx.AsyncClient() as client:
        body: dict[str, Any] = (await client.get(f"{url}/status")).json()
    return body


# Both simulator profiles: under strict, /orders answers 422 to `search`, drops
# `their_reference`, and Shopbox list rows carry neither lines nor branch.
@pytest.mark.covers_profiles
@pytest.mark.parametrize(
    ("shopbox_sim", "rackbeat_sim"), [("evidence", "evidence"), ("strict", "strict")], indirect=True
)
async def test_lossy_webhooks_a_rebalance_a_sigkill_and_a_replay_leave_exactly_one_order_per_sale(
    kafka_bootstrap: str,
    kafka_admin: AIOKafkaAdminClient,
    topic_namespace: str,
    group_id: str,
    start_service: StartService,
    shopbox_sim: ShopboxSim,
    rackbeat_sim: RackbeatSim,
    start_pipeline: StartPipeline,
) -> None:
    count = 500
    pipeline = await start_pipeline()
    catalog = pipeline.catalog
    ingest = pipeline.ingest
    writer = pipeline.writer
    await shopbox_sim.set_webhook(f"{ingest.url}/webhooks/shopbox", HOOK_SECRET)
    await shopbox_sim.set_faults(
        webhook_drop_rate=0.3, webhook_duplicate_rate=0.2, webhook_reorder_window=4
    )
    orders = rackbeat_sim.state.store.orders
    rng = random.Random(4)
    second = None
    for number in range(count):
        await shopbox_sim.sale(rng.choice([1, 2]), sale_lines(rng, catalog.items))
        if number == count // 4:
            second = await start_service(
                "order-writer", pipeline.env
            )  # joins the group: a rebalance
        if number == count // 2:
            await eventually(lambda: len(orders) >= count // 4, timeout=60)
            writer.kill()  # SIGKILL mid-run: some records written but not committed
        if number == count // 2 + 50:
            await writer.restart()
    baskets = shopbox_sim.state.shop.baskets
    assert len(baskets) == count
    await eventually(lambda: len(orders_by_reference(orders)) >= count, timeout=90, every=0.2)
    await asyncio.sleep(2)  # anything left over would be a duplicate: give it time to show
    assert check_orders(baskets, orders, catalog) == []
    assert len(orders) == count
    dispatcher = shopbox_sim.state.dispatcher
    assert dispatcher is not None and dispatcher.dropped > 0  # the poll/sweep found those

    # Replay: move the writer's group back to offset 0 and let it read everything again.
    sales = Topics(topic_namespace).sales
    assert second is not None
    second.terminate()
    writer.terminate()
    out = syncctl(topic_namespace, kafka_bootstrap, "replay", "--group", group_id, "--topic", sales)
    assert "-> offset 0" in out
    await writer.restart()
    await eventually(
        lambda: sales_offsets_committed(kafka_bootstrap, kafka_admin, sales, group_id),
        timeout=60,
        every=0.5,
    )
    status = await writer_status(writer.url)
    assert status["orders"]["created"] == 0
    assert status["orders"]["skipped_by_ledger"] >= count
    assert len(orders) == count


async def test_rackbeat_5xx_and_429_bursts_still_land_every_polled_sale_once(
    shopbox_sim: ShopboxSim,
    rackbeat_sim: RackbeatSim,
    start_pipeline: StartPipeline,
) -> None:
    count = 100
    pipeline = await start_pipeline()  # no webhook: the poller is the only path
    catalog = pipeline.catalog
    writer = pipeline.writer
    # A 500 before the write, and one after it (the order exists, the answer is lost).
    await rackbeat_sim.set_faults(error_rate=0.2, lost_response_rate=0.1)
    orders = rackbeat_sim.state.store.orders
    rng = random.Random(7)
    for number in range(count):
        await shopbox_sim.sale(rng.choice([1, 2]), sale_lines(rng, catalog.items))
        if number % 25 == 10:
            await rackbeat_sim.set_faults(rate_limit_per_minute=10)  # a 429 burst
        if number % 25 == 20:
            await asyncio.sleep(1.5)  # let the writer run into the limit (it polls every 0.5 s)
            await rackbeat_sim.set_faults(rate_limit_per_minute=None)
        await asyncio.sleep(0.02)
    await rackbeat_sim.set_faults(rate_limit_per_minute=None)
    await eventually(lambda: len(orders_by_reference(orders)) >= count, timeout=90, every=0.2)
    await asyncio.sleep(2)
    assert check_orders(shopbox_sim.state.shop.baskets, orders, catalog) == []
    requests = await rackbeat_sim.requests()
    assert requests.get("500", 0) > 10 and requests.get("429", 0) > 0
    # Lost answers happened, and each was resolved by the lookup, not by a second create.
    assert requests.get("lost_response", 0) > 0
    assert (await writer_status(writer.url))["orders"]["found_existing"] > 0


async def test_a_rackbeat_outage_longer_than_the_retry_attempts_is_waited_out(
    kafka_bootstrap: str,
    topic_namespace: str,
    shopbox_sim: ShopboxSim,
    rackbeat_sim: RackbeatSim,
    start_pipeline: StartPipeline,
) -> None:
    # Every call fails for 20 s, well past the 5 tries (about 8 s) a bad record gets: the sales
    # wait for Rackbeat instead of filling the dead letters, and land once it is back.
    pipeline = await start_pipeline()
    catalog = pipeline.catalog
    await rackbeat_sim.set_faults(error_rate=1.0)
    rng = random.Random(11)
    for _ in range(20):
        await shopbox_sim.sale(rng.choice([1, 2]), sale_lines(rng, catalog.items))
    await asyncio.sleep(20)
    orders = rackbeat_sim.state.store.orders
    assert not orders and (await rackbeat_sim.requests()).get("500", 0) > 0
    await rackbeat_sim.set_faults(error_rate=0.0)
    await eventually(lambda: len(orders) >= 20, timeout=60, every=0.2)
    assert check_orders(shopbox_sim.state.shop.baskets, orders, catalog) == []
    assert "0 dead letters" in syncctl(topic_namespace, kafka_bootstrap, "dlq", "list")


def syncctl(namespace: str, kafka_bootstrap: str, *args: str) -> str:
    env = {
        **os.environ,
        "KAFKA_TOPIC_NAMESPACE": namespace,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "COLUMNS": "400",
    }
    result = subprocess.run(
        [sys.executable, "-m", "services.syncctl", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    return result.stdout


async def test_unknown_sku_dead_letters_then_redrive_creates_the_order_once(
    kafka_bootstrap: str,
    topic_namespace: str,
    shopbox_sim: ShopboxSim,
    rackbeat_sim: RackbeatSim,
    start_pipeline: StartPipeline,
) -> None:
    pipeline = await start_pipeline()
    catalog = pipeline.catalog
    unknown = catalog.held_back[0]
    basket = await shopbox_sim.sale(1, [{"product": unknown.product, "quantity": 2}])
    known = await shopbox_sim.sale(1, [{"product": catalog.items[0].product, "quantity": 1}])
    orders = rackbeat_sim.state.store.orders
    await eventually(lambda: len(orders) == 1, timeout=30)  # the good sale is not blocked

    async def dead_lettered() -> bool:
        return unknown.sku in syncctl(topic_namespace, kafka_bootstrap, "dlq", "list")

    await eventually(dead_lettered, timeout=30, every=1)
    listing = syncctl(
        topic_namespace, kafka_bootstrap, "dlq", "list", "--topic", "shopbox.sales.v1"
    )
    assert f"MissingBinding: SKU '{unknown.sku}'" in listing and "has no Rackbeat item" in listing
    assert str(basket["uid"]) in listing and "1 dead letters" in listing
    assert orders_by_reference(orders).keys() == {f"shopbox-basket-{known['uid']}"}

    # The item is created in Rackbeat and bound; the operator re-drives the dead letter.
    await rackbeat_sim.seed(
        {
            "products": [
                {"number": unknown.sku, "name": "Nu oprettet", "group": 1, "sales_price": "10"}
            ]
        }
    )
    await publish_bindings(kafka_bootstrap, topic_namespace, [unknown])
    out = syncctl(
        topic_namespace, kafka_bootstrap, "dlq", "redrive", "--topic", "shopbox.sales.v1", "--all"
    )
    assert "1 re-driven, 0 skipped" in out
    await eventually(lambda: len(orders) == 2, timeout=30)
    again = syncctl(
        topic_namespace, kafka_bootstrap, "dlq", "redrive", "--topic", "shopbox.sales.v1", "--all"
    )
    assert "0 re-driven, 1 skipped" in again
    assert "yes" in syncctl(topic_namespace, kafka_bootstrap, "dlq", "list")
    await asyncio.sleep(4)  # a sweep runs every 3 s here: it must not add anything either
    refs = orders_by_reference(orders)
    assert len(orders) == 2 and len(refs[f"shopbox-basket-{basket['uid']}"]) == 1
    (order,) = refs[f"shopbox-basket-{basket['uid']}"]
    assert [(line.item_number, line.quantity) for line in order.lines] == [
        (unknown.sku, Decimal(2))
    ]
    assert dlq_name(Topics(topic_namespace).sales).endswith(".dlq")


# The cancel endpoint is pinned: without it (strict) a void is dead-lettered, which the next
# test covers.
@pytest.mark.rackbeat_switches(order_cancel="endpoint")
async def test_cancel_cancels_the_order_and_a_refund_becomes_its_own_negative_order(
    shopbox_sim: ShopboxSim,
    rackbeat_sim: RackbeatSim,
    start_pipeline: StartPipeline,
) -> None:
    pipeline = await start_pipeline()
    catalog = pipeline.catalog
    ingest = pipeline.ingest
    await shopbox_sim.set_webhook(f"{ingest.url}/webhooks/shopbox", HOOK_SECRET)
    item = catalog.items[1]
    sold = await shopbox_sim.sale(1, [{"product": item.product, "quantity": 3}])
    voided = await shopbox_sim.sale(2, [{"product": item.product, "quantity": 1}])
    orders = rackbeat_sim.state.store.orders
    await eventually(lambda: len(orders) == 2, timeout=30)
    before = await stock_at_location_1(rackbeat_sim, item.sku)
    refund = await shopbox_sim.refund(sold["uid"], [{"product": item.product, "quantity": 2}])
    await shopbox_sim.cancel(voided["uid"])
    await eventually(lambda: len(orders) == 3, timeout=30)
    refs = orders_by_reference(orders)
    await eventually(lambda: refs[f"shopbox-basket-{voided['uid']}"][0].is_cancelled, timeout=30)
    (credit,) = refs[f"shopbox-basket-{refund['uid']}"]
    assert [(line.item_number, line.quantity) for line in credit.lines] == [(item.sku, Decimal(-2))]
    assert credit.note == f"Refund basket {refund['uid']} of sale {sold['uid']}"
    assert credit.is_booked and not credit.is_cancelled
    (original,) = refs[f"shopbox-basket-{sold['uid']}"]
    assert not original.is_cancelled and original.lines[0].quantity == 3
    assert original.lines[0].location_number == 1
    assert refs[f"shopbox-basket-{voided['uid']}"][0].lines[0].location_number == 2
    await asyncio.sleep(4)  # a sweep runs every 3 s: nothing more may appear
    assert len(orders) == 3
    # Restock is kept apart from the money: the booked refund order moved no stock and freed no
    # reservation at the sale's location (the voided sale was at location 2).
    assert await stock_at_location_1(rackbeat_sim, item.sku) == before


@pytest.mark.rackbeat_switches(order_create_books="unbooked", order_cancel="absent")
async def test_unbooked_creates_are_booked_and_a_void_without_a_cancel_endpoint_is_dead_lettered(
    shopbox_sim: ShopboxSim,
    rackbeat_sim: RackbeatSim,
    start_pipeline: StartPipeline,
    kafka_bootstrap: str,
    topic_namespace: str,
) -> None:
    pipeline = await start_pipeline()
    await shopbox_sim.set_webhook(f"{pipeline.ingest.url}/webhooks/shopbox", HOOK_SECRET)
    item = pipeline.catalog.items[1]
    voided = await shopbox_sim.sale(1, [{"product": item.product, "quantity": 1}])
    orders = rackbeat_sim.state.store.orders
    await eventually(lambda: any(o.is_booked for o in orders.values()), timeout=30)
    await shopbox_sim.cancel(voided["uid"])
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap)
    dlq = dlq_name(Topics(topic_namespace).sales)

    async def dead_lettered() -> list[DeadLetter]:
        return await read_dead_letters(kafka, dlq)

    await eventually(lambda: _any(dead_lettered()), timeout=30, every=0.5)
    (order,) = orders.values()
    [letter] = await dead_lettered()
    assert f"cancel order {order.number} in Rackbeat by hand" in letter.reason
    assert order.is_booked and not order.is_cancelled  # reported, never claimed done


async def _any(letters: Awaitable[list[DeadLetter]]) -> bool:
    return bool(await letters)


async def test_draft_setting_writes_unbooked_orders_that_reserve_nothing(
    shopbox_sim: ShopboxSim,
    rackbeat_sim: RackbeatSim,
    start_pipeline: StartPipeline,
) -> None:
    pipeline = await start_pipeline(ORDER_WRITER_ORDER_STATE="draft")
    catalog = pipeline.catalog
    item = catalog.items[2]
    before = await stock_at_location_1(rackbeat_sim, item.sku)
    sold = await shopbox_sim.sale(1, [{"product": item.product, "quantity": 2}])
    orders = rackbeat_sim.state.store.orders
    await eventually(lambda: len(orders) == 1, timeout=30)
    (draft,) = orders_by_reference(orders)[f"shopbox-basket-{sold['uid']}"]
    assert not draft.is_booked and [(line.item_number, line.quantity) for line in draft.lines] == [
        (item.sku, Decimal(2))
    ]
    assert await stock_at_location_1(rackbeat_sim, item.sku) == before  # a draft reserves nothing

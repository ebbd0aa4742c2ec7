"""The outage story of docs/deployment-reference.md, run for real: order-ingest, order-writer and
stock-publisher as processes (as `make run` and the compose file start them), the real broker
and both simulators. The two consumers are stopped (SIGTERM, as `docker compose stop` does);
while they are down the shop keeps selling and Rackbeat's stock keeps changing; when they start
again they resume from their committed offsets, and every sale becomes exactly one Rackbeat
order and Shopbox's stock converges to Rackbeat's.

Sizes are small (50 products, 20 + 40 sales, 60 stock changes) to keep the suite fast; the
same shape at full size is in the sales and stock benchmarks.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from schemas.topics import Topics
from tests.e2e.sales_harness import Catalog, check_orders, sale_lines, service_env
from tests.e2e.stock_setup import adjust_randomly, converge_time, prepare
from tests.fixtures.rackbeat_sim import RackbeatSim
from tests.fixtures.services import StartService
from tests.fixtures.shopbox_sim import ShopboxSim
from tests.support import eventually

HOOK_SECRET = "outage-hook-secret"


@pytest.fixture
async def end_offsets(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaConsumer]:
    """One group-less consumer for reading end offsets, kept for the whole test."""
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap)
    await consumer.start()
    yield consumer
    await consumer.stop()


async def lag(reader: AIOKafkaConsumer, admin: AIOKafkaAdminClient, topic: str, group: str) -> int:
    """Records of `topic` not yet committed by `group` (all of them if it never committed)."""
    (description,) = await admin.describe_topics([topic])
    partitions = [p["partition"] for p in description["partitions"]]
    assert partitions, f"no partitions for {topic}"
    ends = await reader.end_offsets([TopicPartition(topic, p) for p in partitions])
    committed = await admin.list_consumer_group_offsets(group)
    return sum(end - (committed[tp].offset if tp in committed else 0) for tp, end in ends.items())


async def ring_up(shop: ShopboxSim, catalog: Catalog, count: int, rng: random.Random) -> None:
    for _ in range(count):
        await shop.sale(rng.choice([1, 2]), sale_lines(rng, catalog.items))


async def test_consumers_stopped_during_sales_and_stock_changes_catch_up_exactly_once(
    kafka_bootstrap: str,
    kafka_admin: AIOKafkaAdminClient,
    end_offsets: AIOKafkaConsumer,
    topic_namespace: str,
    group_id: str,
    start_service: StartService,
    shopbox_sim: ShopboxSim,
    rackbeat_sim: RackbeatSim,
) -> None:
    world = await prepare(shopbox_sim, rackbeat_sim, kafka_bootstrap, topic_namespace, items=50)
    catalog = Catalog(items=world.items, rackbeat_seed={})
    sales_env = service_env(
        topic_namespace, shopbox_sim, rackbeat_sim, HOOK_SECRET, ORDER_WRITER_GROUP_ID=group_id
    )
    ingest = await start_service("order-ingest", sales_env)
    writer = await start_service("order-writer", sales_env)
    stock = await start_service("stock-publisher", world.env)
    await shopbox_sim.set_webhook(f"{ingest.url}/webhooks/shopbox", HOOK_SECRET)
    orders = rackbeat_sim.state.store.orders
    rng = random.Random(7)

    # Normal running: sales become orders, stock follows.
    await ring_up(shopbox_sim, catalog, 20, rng)
    await eventually(lambda: len(orders) == 20, timeout=60, every=0.2)
    await converge_time(world, time.monotonic(), timeout=30)

    # The outage: both consumers stopped; the shop and the warehouse carry on.
    assert writer.terminate() in {0, -15} and stock.terminate() in {0, -15}
    await ring_up(shopbox_sim, catalog, 40, rng)
    await adjust_randomly(world, 60, seed=8)
    sales = Topics(topic_namespace).sales
    await eventually(lag_is(end_offsets, kafka_admin, sales, group_id, 40), timeout=30, every=0.3)
    assert len(orders) == 20  # nothing was written while order-writer was down

    # Back up: each resumes from its committed offsets.
    await writer.restart()
    await stock.restart()
    await eventually(lambda: len(orders) >= 60, timeout=60, every=0.2)
    await eventually(lag_is(end_offsets, kafka_admin, sales, group_id, 0), timeout=30, every=0.3)
    await asyncio.sleep(2)  # a duplicate would show up now: give it the time
    assert check_orders(shopbox_sim.state.shop.baskets, orders, catalog) == []
    assert len(orders) == 60
    await converge_time(world, time.monotonic(), timeout=45)


def lag_is(
    reader: AIOKafkaConsumer, admin: AIOKafkaAdminClient, topic: str, group: str, at_least: int
) -> Callable[[], Awaitable[bool]]:
    """Lag of `group` is `at_least` or more; 0 means exactly caught up. (order-ingest may publish
    one sale more than once, from the webhook and the poll; consumers dedupe by event id.)"""

    async def check() -> bool:
        behind = await lag(reader, admin, topic, group)
        return behind == 0 if at_least == 0 else behind >= at_least

    return check

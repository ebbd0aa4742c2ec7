"""Variant stock end to end: a Rackbeat item with a variation, stock per option, pushed to the
Shopbox variant bound to each option (and to no other), and a sale of a variant that flows
through order-ingest and order-writer and comes back without a flap."""

from __future__ import annotations

import asyncio
import contextlib
import time
from decimal import Decimal
from itertools import pairwise

from aiokafka import AIOKafkaConsumer

from schemas.stock import StockPushed, StockPushedPayload
from schemas.topics import Topics
from tests.e2e.sales_harness import CatalogItem
from tests.e2e.stock_setup import StockWorld, converge_time, prepare
from tests.fixtures.rackbeat_sim import RackbeatSim
from tests.fixtures.services import StartService
from tests.fixtures.shopbox_sim import ShopboxSim
from tests.support import eventually


async def test_variant_stock_reaches_its_variant_and_a_variant_sale_does_not_flap(
    shopbox_sim: ShopboxSim,
    rackbeat_sim: RackbeatSim,
    kafka_bootstrap: str,
    topic_namespace: str,
    start_service: StartService,
) -> None:
    world = await prepare(
        shopbox_sim, rackbeat_sim, kafka_bootstrap, topic_namespace, items=3, variant_products=2
    )
    await world.start(start_service)
    others = {k: v for k, v in world.env.items() if k not in ("HTTP_PORT", "STOCK_PUBLIC_URL")}
    await start_service("order-ingest", env=others)
    await start_service("order-writer", env=others)
    await converge_time(world, time.monotonic(), timeout=30)  # start-up sweep: 20 everywhere
    variants = [i for i in world.items if i.variant is not None]
    product = variants[0].product
    target, sibling, *rest = [i for i in variants if i.product == product]
    status = await world.status()
    assert status["unmapped_sku_count"] == 0, status["unmapped_skus"]

    # 1. one option changes in Rackbeat: exactly that variant in that branch changes in Shopbox
    before = {(i.sku, b): world.shopbox_figure(i, b) for i in variants for b in (1, 2)}
    writes_before = await world.stock_writes()
    await rackbeat_sim.stock(target.rackbeat_item, 1, quantity=5, option_ids=[target.option_id])
    await eventually(lambda: world.shopbox_figure(target, 1) == Decimal(25))
    await asyncio.sleep(1.5)  # anything else that would be written is written by now
    after = {(i.sku, b): world.shopbox_figure(i, b) for i in variants for b in (1, 2)}
    changed = {key for key in before if before[key] != after[key]}
    assert changed == {(target.sku, 1)}
    assert world.shopbox.stock(1, product, None) == 0  # nothing on the product itself
    assert await world.stock_writes() - writes_before == 1
    pushed = [p for p in await pushed_records(kafka_bootstrap, topic_namespace) if p.quantity == 25]
    assert [(p.sku, p.branch_id, p.product_id, p.variant_id) for p in pushed] == [
        (target.sku, "1", str(product), str(target.variant))
    ]

    # 2. a sale of the sibling variant: booked on its option in Rackbeat, no flap in Shopbox
    samples = await _sample_during_sale(world, shopbox_sim, rackbeat_sim, sibling, quantity=2)
    rises = [(a, b) for a, b in pairwise(samples) if b > a]
    assert not rises, f"Shopbox stock of the sold variant went back up: {rises}"
    assert samples[0] == Decimal(20) and samples[-1] == Decimal(18)
    assert world.rackbeat_figure(sibling, 1) == Decimal(18)
    assert world.shopbox_figure(target, 1) == Decimal(25)  # the other variants kept theirs
    assert all(world.shopbox_figure(i, 1) == Decimal(20) for i in rest)
    assert not world.differences()


async def _sample_during_sale(
    world: StockWorld,
    shopbox: ShopboxSim,
    rackbeat: RackbeatSim,
    item: CatalogItem,
    quantity: int,
) -> list[Decimal]:
    samples: list[Decimal] = []
    writes_before = await world.stock_writes()

    async def sample() -> None:
        while True:
            samples.append(world.shopbox_figure(item, 1))
            await asyncio.sleep(0.005)

    sampler = asyncio.create_task(sample())
    await asyncio.sleep(0.05)
    line = {"product": item.product, "product_variance": item.variant, "quantity": quantity}
    await shopbox.sale(1, [line])
    booked = Decimal(20 - quantity)

    def settled() -> bool:
        orders = [o for o in rackbeat.state.store.orders.values() if o.is_booked]
        return len(orders) == 1 and world.rackbeat_figure(item, 1) == booked

    await eventually(settled, timeout=30)
    await converge_time(world, time.monotonic(), timeout=15)
    await asyncio.sleep(2.5)  # a late flap would show here
    sampler.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await sampler
    # Shopbox already showed the sale: nothing needed writing back, no echo loop
    assert await world.stock_writes() - writes_before <= 1
    return samples


async def pushed_records(bootstrap: str, namespace: str) -> list[StockPushedPayload]:
    """Everything on the namespace's `stock.pushed.v1` so far."""
    consumer = AIOKafkaConsumer(
        Topics(namespace).stock_pushed, bootstrap_servers=bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        found: list[StockPushedPayload] = []
        while batch := await consumer.getmany(timeout_ms=1000):
            found += [
                StockPushed.model_validate_json(r.value or b"").payload
                for records in batch.values()
                for r in records
            ]
        return found
    finally:
        await consumer.stop()

"""Reconciliation end to end: stock edited by hand in Shopbox (a product and a variant) is put
back by stock-publisher's periodic pass, recorded on stock.pushed.v1 with cause "reconcile" and
logged with the drift's size; a Shopbox sale whose event has not reached Kafka (order-ingest is
not running here) is NOT undone, pass after pass."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

from tests.e2e.stock_setup import converge_time, prepare
from tests.e2e.test_stock_variants import pushed_records
from tests.fixtures.rackbeat_sim import RackbeatSim
from tests.fixtures.services import StartService
from tests.fixtures.shopbox_sim import ShopboxSim
from tests.support import eventually

INTERVAL_S = 1.0


async def test_hand_edits_are_put_back_and_unreceived_sales_are_not(
    shopbox_sim: ShopboxSim,
    rackbeat_sim: RackbeatSim,
    kafka_bootstrap: str,
    topic_namespace: str,
    start_service: StartService,
) -> None:
    world = await prepare(
        shopbox_sim,
        rackbeat_sim,
        kafka_bootstrap,
        topic_namespace,
        items=3,
        variant_products=1,
        STOCK_RECONCILE_INTERVAL_S=str(INTERVAL_S),
    )
    service = await world.start(start_service)
    await converge_time(world, time.monotonic(), timeout=30)
    sold, edited = [i for i in world.items if i.variant is None][:2]
    variant = next(i for i in world.items if i.variant is not None)

    await shopbox_sim.sale(1, [{"product": sold.product, "quantity": 2}])  # never ingested
    began = time.monotonic()
    await shopbox_sim.set_stock(1, 99, product=edited.product)
    await shopbox_sim.set_stock(2, 3, product=variant.product, product_variance=variant.variant)
    assert world.shopbox_figure(edited, 1) == Decimal(99)

    def put_back() -> bool:
        return world.shopbox_figure(edited, 1) == world.shopbox_figure(variant, 2) == Decimal(20)

    await eventually(put_back, timeout=4 * INTERVAL_S + 2)
    seconds = time.monotonic() - began
    await asyncio.sleep(3 * INTERVAL_S)  # three more passes: the sale must stay
    assert world.shopbox_figure(sold, 1) == Decimal(18)
    assert put_back()

    corrections = [p for p in await pushed_records(kafka_bootstrap, topic_namespace) if p.cause]
    corrections = [p for p in corrections if p.cause.startswith("reconcile ")]
    assert sorted((p.sku, p.branch_id, p.quantity, p.previous_quantity) for p in corrections) == [
        (edited.sku, "1", Decimal(20), Decimal(99)),
        (variant.sku, "2", Decimal(20), Decimal(3)),
    ]
    status = await world.status()
    counters = status["counters"]
    print(f"\nput back {seconds:.2f} s after the edits (interval {INTERVAL_S} s); {counters}")
    assert counters["drifts_corrected"] == 2
    assert counters["reconcile_skipped_sale_in_transit"] >= 3
    logged = service.log_tail()
    assert '"drift": "79' in logged and '"drift": "-17' in logged, logged[-3000:]

"""Every order's total incl. VAT equals its Shopbox basket's total to the øre, through the running
order-ingest and order-writer, under each of the simulator's VAT rounding guesses
(docs/decisions/0014): line discounts, basket discounts and refunds included.
"""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import pytest

from infra.simulators.rackbeat.records import VAT_ROUNDINGS, Order
from tests.e2e import test_sales_pipeline
from tests.e2e.sales_harness import orders_by_reference, sale_lines
from tests.e2e.test_sales_pipeline import StartPipeline
from tests.fixtures.rackbeat_sim import RackbeatSim
from tests.fixtures.shopbox_sim import ShopboxSim
from tests.support import eventually

ROUNDING_ITEM = "AFRUNDING"
ROUNDING_SEED = {
    "groups": [{"number": 9, "name": "Afrunding", "vat_domestic": False}],
    "products": [{"number": ROUNDING_ITEM, "name": "Øreafrunding", "group": 9}],
}
BASKETS = 60
start_pipeline = test_sales_pipeline.start_pipeline  # the pipeline fixture, shared


def total_mismatches(
    rackbeat: RackbeatSim, baskets: dict[int, Any], orders: dict[int, Order]
) -> list[str]:
    by_reference = orders_by_reference(orders)
    problems = []
    for uid, basket in baskets.items():
        matching = by_reference.get(f"shopbox-basket-{uid}", [])
        if len(matching) != 1:
            problems.append(f"basket {uid}: {len(matching)} orders")
            continue
        total = rackbeat.state.store.order_totals(matching[0])[2]
        if total != Decimal(basket.total) / 100:
            problems.append(f"basket {uid}: order total {total} != basket {basket.total} øre")
    return problems


@pytest.mark.parametrize("vat_rounding", VAT_ROUNDINGS)
async def test_every_order_total_equals_its_basket_total_to_the_ore(
    vat_rounding: str,
    shopbox_sim: ShopboxSim,
    rackbeat_sim: RackbeatSim,
    start_pipeline: StartPipeline,
) -> None:
    await rackbeat_sim.seed(ROUNDING_SEED)
    await rackbeat_sim.control.put("settings", json={"vat_rounding": vat_rounding})
    pipeline = await start_pipeline(
        ORDER_WRITER_ROUNDING_ITEM_NUMBER=ROUNDING_ITEM, ORDER_WRITER_VAT_ROUNDING=vat_rounding
    )
    rng = random.Random(14)
    sold = []
    for number in range(BASKETS):
        lines = sale_lines(rng, pipeline.catalog.items)
        extra = {"discount_margin": rng.randint(1, 999)} if number % 5 == 0 else {}
        sold.append(await shopbox_sim.sale(rng.choice([1, 2]), lines, **extra))
    for basket in sold[:5]:
        await shopbox_sim.refund(basket["uid"])
    orders = rackbeat_sim.state.store.orders
    expected = BASKETS + 5
    await eventually(lambda: len(orders_by_reference(orders)) >= expected, timeout=60, every=0.2)
    baskets = shopbox_sim.state.shop.baskets
    assert len(baskets) == expected
    assert total_mismatches(rackbeat_sim, baskets, orders) == []
    rounded = [o for o in orders.values() if any(x.item_number == ROUNDING_ITEM for x in o.lines)]
    assert rounded  # the catalogue's prices do need rounding lines: the check can fail

"""What the till does to Shopbox's stock is taken back by the stream, not by the reconciliation.

A refund adds the refunded units back to Shopbox's stock; the sync keeps restocking apart
(docs/sales.md), so Shopbox must come back to Rackbeat's figure within seconds, even while
order-writer is down and the refund's order is not in Rackbeat yet. A sale past zero
leaves Shopbox negative; the sync must correct it to 0 although it last wrote 0 itself. The
reconciliation is off (STOCK_RECONCILE_INTERVAL_S=0), so only the stream can do it.
"""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

from tests.e2e.stock_setup import StockWorld, converge_time, prepare
from tests.fixtures.rackbeat_sim import RackbeatSim
from tests.fixtures.services import RunningService, StartService
from tests.fixtures.shopbox_sim import ShopboxSim

CONVERGE_S = 10


async def run_the_shop(
    shopbox_sim: ShopboxSim,
    rackbeat_sim: RackbeatSim,
    kafka_bootstrap: str,
    topic_namespace: str,
    start_service: StartService,
) -> tuple[StockWorld, RunningService]:
    world = await prepare(
        shopbox_sim,
        rackbeat_sim,
        kafka_bootstrap,
        topic_namespace,
        items=4,
        STOCK_RECONCILE_INTERVAL_S="0",
    )
    await world.start(start_service)
    others = {k: v for k, v in world.env.items() if k not in ("HTTP_PORT", "STOCK_PUBLIC_URL")}
    await start_service("order-ingest", env=others)
    writer = await start_service("order-writer", env=others)
    await converge_time(world, time.monotonic(), timeout=30)
    return world, writer


async def booked(rackbeat_sim: RackbeatSim, count: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if sum(o.is_booked for o in rackbeat_sim.state.store.orders.values()) >= count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"fewer than {count} orders booked in Rackbeat")


async def test_refund_and_negative_till_figure_are_corrected_by_the_stream(
    shopbox_sim: ShopboxSim,
    rackbeat_sim: RackbeatSim,
    kafka_bootstrap: str,
    topic_namespace: str,
    start_service: StartService,
) -> None:
    world, writer = await run_the_shop(
        shopbox_sim, rackbeat_sim, kafka_bootstrap, topic_namespace, start_service
    )
    refunded, emptied = world.items[0], world.items[1]

    sale = await shopbox_sim.sale(1, [{"product": refunded.product, "quantity": 2}])
    await booked(rackbeat_sim, 1)
    await converge_time(world, time.monotonic(), timeout=15)
    assert world.rackbeat_figure(refunded, 1) == Decimal(18)
    writer.terminate()  # the refund's order waits: the stream alone must undo the till
    await shopbox_sim.refund(sale["uid"])
    assert world.shopbox_figure(refunded, 1) == Decimal(20)  # the till put the 2 back
    seconds = await converge_time(world, time.monotonic(), timeout=CONVERGE_S)
    print(f"\nrefund: Shopbox back to Rackbeat's figure in {seconds:.2f} s")
    assert world.shopbox_figure(refunded, 1) == Decimal(18)

    await writer.restart()
    await rackbeat_sim.stock(emptied.rackbeat_item, 1, quantity=-20, option_ids=[])
    await converge_time(world, time.monotonic(), timeout=15)
    assert world.shopbox_figure(emptied, 1) == Decimal(0)
    await shopbox_sim.sale(1, [{"product": emptied.product, "quantity": 2}])
    assert world.shopbox_figure(emptied, 1) == Decimal(-2)  # the till sold past zero
    seconds = await converge_time(world, time.monotonic(), timeout=CONVERGE_S)
    print(f"negative till figure corrected to 0 in {seconds:.2f} s")
    assert world.shopbox_figure(emptied, 1) == Decimal(0)
    await asyncio.sleep(2)  # nothing puts the refund or the negative figure back
    assert world.differences() == []

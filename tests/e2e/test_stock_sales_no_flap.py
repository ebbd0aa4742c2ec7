"""Promise 6 end to end: a Shopbox sale flows to Rackbeat as a booked order (order-ingest and
order-writer as processes), Rackbeat's available figure drops, and that figure comes back to
Shopbox without a loop and without Shopbox's stock ever going back up in between."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from itertools import pairwise

from tests.e2e.stock_setup import converge_time, prepare, sampling
from tests.fixtures.rackbeat_sim import RackbeatSim
from tests.fixtures.services import StartService
from tests.fixtures.shopbox_sim import ShopboxSim


async def test_sale_comes_back_as_stock_without_flap(
    shopbox_sim: ShopboxSim,
    rackbeat_sim: RackbeatSim,
    kafka_bootstrap: str,
    topic_namespace: str,
    start_service: StartService,
) -> None:
    world = await prepare(shopbox_sim, rackbeat_sim, kafka_bootstrap, topic_namespace, items=10)
    await world.start(start_service)
    others = {k: v for k, v in world.env.items() if k not in ("HTTP_PORT", "STOCK_PUBLIC_URL")}
    await start_service("order-ingest", env=others)
    await start_service("order-writer", env=others)
    await converge_time(world, time.monotonic(), timeout=30)
    item = world.items[0]
    writes_before = await world.stock_writes()

    def settled() -> bool:
        booked = [o for o in rackbeat_sim.state.store.orders.values() if o.is_booked]
        return len(booked) == 2 and world.rackbeat_figure(item, 1) == Decimal(17)

    async with sampling(world, item) as samples:
        for quantity in (2, 1):  # two sales in a row, the second while the first is in flight
            await shopbox_sim.sale(1, [{"product": item.product, "quantity": quantity}])
            await asyncio.sleep(0.3)
        deadline = time.monotonic() + 30
        while not settled() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert settled(), "orders not booked in Rackbeat"
        await converge_time(world, time.monotonic(), timeout=15)
        await asyncio.sleep(3)  # a late flap would show here

    status = await world.status()
    print(
        f"\nsamples {len(samples)}, distinct {sorted(set(samples))}; counters {status['counters']}"
    )
    rises = [(a, b) for a, b in pairwise(samples) if b > a]
    assert not rises, f"Shopbox stock went back up: {rises}"
    assert samples[0] == Decimal(20) and samples[-1] == Decimal(17)
    assert world.shopbox_figure(item, 1) == world.rackbeat_figure(item, 1)
    # Shopbox already showed 17 after the sales: nothing needed writing back, no echo loop
    assert await world.stock_writes() - writes_before <= 1

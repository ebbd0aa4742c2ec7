"""Stock-direction settings end to end (stock-publisher as a process, real Kafka, simulators):
`SYNC_STOCK_ENABLED=false`, unmapped SKUs and locations, the negative clamp and the safety
buffer (docs/stock.md: the figure, unmapped items, sync off)."""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal

import httpx
import pytest

from tests.e2e.sales_harness import build_catalog
from tests.e2e.stock_setup import StockWorld, converge_time, prepare
from tests.e2e.test_stock_variants import pushed_records
from tests.fixtures.rackbeat_sim import RackbeatSim
from tests.fixtures.services import StartService
from tests.fixtures.shopbox_sim import ShopboxSim, demo_shop
from tests.support import eventually

pytestmark = pytest.mark.covers_profiles


async def test_stock_sync_off_reads_and_writes_nothing_and_ignores_webhooks(
    shopbox_sim: ShopboxSim,
    rackbeat_sim: RackbeatSim,
    kafka_bootstrap: str,
    topic_namespace: str,
    start_service: StartService,
) -> None:
    world = await prepare(shopbox_sim, rackbeat_sim, kafka_bootstrap, topic_namespace, items=3)
    # A deployment that ran with stock sync on (its webhook is registered in Rackbeat and the
    # token is in Kafka) is restarted with it off, on the same URL.
    service = await world.start(start_service)
    await converge_time(world, time.monotonic(), timeout=30)
    service.terminate()
    await start_service("stock-publisher", env={**world.env, "SYNC_STOCK_ENABLED": "false"})
    token = next(h.token for h in rackbeat_sim.state.bus.hooks.values())
    writes_before = await world.stock_writes()
    reads_before = await _stock_reads(rackbeat_sim)
    delivered_before = (await rackbeat_sim.webhook_stats())["delivered"]

    item = world.items[0]
    await rackbeat_sim.stock(item.rackbeat_item, 1, quantity=7)  # fires inventory.changed
    async with httpx.AsyncClient(base_url=world.url) as client:
        body = {"event": "inventory.changed", "key": item.rackbeat_item, "key_name": "number"}
        by_hand = await client.post(
            "/webhooks/rackbeat", json=body, headers={"Rackbeat-Webhook-Token": token}
        )
    assert by_hand.status_code == 202, by_hand.text
    assert "ignored" in by_hand.json()
    await rackbeat_sim.idle()
    stats = await rackbeat_sim.webhook_stats()
    assert stats["delivered"] > delivered_before, stats  # Rackbeat's own delivery got a 2xx
    await asyncio.sleep(3)  # longer than debounce + push delay + a poll interval

    status = await world.status()
    assert status["stock_enabled"] is False
    assert status["counters"].get("webhooks_ignored", 0) >= 2, status["counters"]
    assert "webhooks_accepted" not in status["counters"]
    assert await world.stock_writes() == writes_before
    assert await _stock_reads(rackbeat_sim) == reads_before
    assert world.shopbox_figure(item, 1) == 20  # Rackbeat says 27; Shopbox is left alone
    assert world.rackbeat_figure(item, 1) == 27


async def test_unmapped_sku_and_location_are_reported_not_written(
    shopbox_sim: ShopboxSim,
    rackbeat_sim: RackbeatSim,
    kafka_bootstrap: str,
    topic_namespace: str,
    start_service: StartService,
) -> None:
    world = await prepare(shopbox_sim, rackbeat_sim, kafka_bootstrap, topic_namespace, items=3)
    await world.start(start_service)
    await converge_time(world, time.monotonic(), timeout=30)
    status = await world.status()
    assert (status["unmapped_sku_count"], status["unmapped_locations"]) == (0, [])

    # The product Shopbox has but no binding names (same SKU as a Rackbeat item: guessing by
    # SKU would write it), and a Rackbeat location no branch maps to.
    unbound = build_catalog(demo_shop(), simple=3, variant_products=0).held_back[0]
    shopbox_before = {b: world.shopbox_figure(unbound, b) for b in (1, 2)}
    await rackbeat_sim.seed(
        {
            "locations": [{"number": 3, "name": "Fjernlager"}],
            "products": [
                {
                    "number": unbound.rackbeat_item,
                    "name": "unbound",
                    "group": 1,
                    "sales_price": "10.00",
                }
            ],
        }
    )
    writes_before = await world.stock_writes()
    mapped, other = world.items[0], world.items[1]
    await rackbeat_sim.stock(unbound.rackbeat_item, 1, set=11)
    await rackbeat_sim.stock(mapped.rackbeat_item, 3, set=9)
    await rackbeat_sim.stock(other.rackbeat_item, 1, quantity=5)  # this one must still arrive

    await converge_time(world, time.monotonic(), timeout=15)
    assert world.shopbox_figure(other, 1) == 25

    async def reported() -> bool:
        s = await world.status()
        return bool(s["unmapped_skus"] and s["unmapped_locations"])

    await eventually(reported, timeout=10)
    await asyncio.sleep(1.5)  # any write the unmapped ones would cause is done by now
    status = await world.status()
    assert status["unmapped_skus"] == [unbound.rackbeat_item]
    assert status["unmapped_sku_count"] == 1
    assert status["unmapped_locations"] == ["3"]
    assert status["counters"]["unmapped_skus_seen"] >= 1
    assert status["counters"]["unmapped_locations_seen"] >= 1
    assert await world.stock_writes() - writes_before == 1  # `other` at branch 1, nothing else
    assert {b: world.shopbox_figure(unbound, b) for b in (1, 2)} == shopbox_before
    pushed = await pushed_records(kafka_bootstrap, topic_namespace)
    assert unbound.sku not in {p.sku for p in pushed}
    assert Decimal(9) not in {p.quantity for p in pushed if p.sku == mapped.sku}


async def test_negative_stock_is_clamped_and_the_safety_buffer_is_held_back(
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
        STOCK_SAFETY_BUFFER=json.dumps({"2": 5}),
    )
    await world.start(start_service)
    # Rackbeat has 20 in both locations: location 2 (branch 2) shows 5 fewer.
    expected = {(i.sku, 1): Decimal(20) for i in world.items}
    expected |= {(i.sku, 2): Decimal(15) for i in world.items}
    await eventually(lambda: _shopbox(world) == expected, timeout=30)
    assert "clamped_to_zero" not in (await world.status())["counters"]

    negative, buffered = world.items[0], world.items[1]
    await rackbeat_sim.stock(negative.rackbeat_item, 1, set=-3)  # available -3
    await rackbeat_sim.stock(buffered.rackbeat_item, 2, set=8)  # 8 - 5 = 3
    await rackbeat_sim.stock(buffered.rackbeat_item, 1, set=8)  # no buffer at location 1
    expected |= {(negative.sku, 1): Decimal(0), (buffered.sku, 2): Decimal(3)}
    expected |= {(buffered.sku, 1): Decimal(8)}
    await eventually(lambda: _shopbox(world) == expected, timeout=15)

    status = await world.status()
    assert status["counters"].get("clamped_to_zero", 0) >= 1, status["counters"]
    pushed = await pushed_records(kafka_bootstrap, topic_namespace)
    assert all(p.quantity >= 0 for p in pushed)


def _shopbox(world: StockWorld) -> dict[tuple[str, int], Decimal]:
    return {(i.sku, b): world.shopbox_figure(i, b) for i in world.items for b in (1, 2)}


async def _stock_reads(rackbeat: RackbeatSim) -> int:
    """Rackbeat API calls of any kind (reads of stock, item listings of the polls)."""
    counts = await rackbeat.requests()
    return sum(n for k, n in counts.items() if " " in k)

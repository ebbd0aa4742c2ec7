"""The initial sync's stock copy reads back identically: `syncctl initial-sync` copies the demo
shop (302 products, 42 with variants, 2 of them size x colour, two branches) into Rackbeat, then
stock-publisher starts, reads every item (per variant for the variants) and finds nothing to
write to Shopbox."""

from __future__ import annotations

import time
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer

from schemas.stock import StockObserved
from schemas.topics import Topics
from tests.e2e.sales_harness import service_env
from tests.fixtures.rackbeat_sim import RackbeatSim
from tests.fixtures.services import StartService
from tests.fixtures.shopbox_sim import ShopboxSim
from tests.integration.test_item_initial_sync import FAST, cli_env, run_cli
from tests.support import eventually


async def test_initial_sync_stock_reads_back_without_a_single_shopbox_write(
    shopbox_sim: ShopboxSim,
    rackbeat_sim: RackbeatSim,
    kafka_bootstrap: str,
    topic_namespace: str,
    start_service: StartService,
) -> None:
    await rackbeat_sim.set_faults(rate_limit_per_minute=FAST)
    code, out = await run_cli(cli_env(kafka_bootstrap, topic_namespace, shopbox_sim, rackbeat_sim))
    assert code == 0, out
    items = len(rackbeat_sim.state.store.products)
    option_places = variant_rows_total(rackbeat_sim)
    assert option_places >= 40 * 2 * 2

    env = service_env(topic_namespace, shopbox_sim, rackbeat_sim, "unused")
    service = await start_service("stock-publisher", env=env)
    status: dict[str, Any] = {}

    async def swept_and_flushed() -> bool:
        nonlocal status
        async with httpx.AsyncClient() as client:
            status = (await client.get(f"{service.url}/status")).json()
        reads: int = status["counters"].get("reads", 0)
        return reads >= items and status["queued_reads"] == 0 and status["buffered_keys"] == 0

    began = time.monotonic()
    await eventually(swept_and_flushed, timeout=60, every=0.2)
    counters = status["counters"]
    print(f"\nswept {items} items in {time.monotonic() - began:.1f} s; {counters}")
    assert await _inventory_writes(shopbox_sim) == 0, counters
    assert counters.get("writes", 0) == 0
    assert status["unmapped_sku_count"] == 0, status["unmapped_skus"]

    observed = await _observations(kafka_bootstrap, topic_namespace)
    option_keys = {key for key, event in observed if event.payload.variation_option_id}
    assert len(option_keys) == option_places
    assert all(key.count("|") == 2 for key in option_keys)
    assert counters["writes_skipped_equal"] >= option_places


def variant_rows_total(rackbeat: RackbeatSim) -> int:
    """Variants (one option per type) times mapped locations, over every item with a variation."""
    store = rackbeat.state.store
    options = sum(
        len(store.variations[p.variation_id].variant_keys())
        for p in store.products.values()
        if p.variation_id
    )
    return options * 2


async def _inventory_writes(shopbox: ShopboxSim) -> int:
    counts = await shopbox.request_counts()
    return sum(n for k, n in counts.items() if k.startswith("POST") and "inventor" in k)


async def _observations(bootstrap: str, namespace: str) -> list[tuple[str, StockObserved]]:
    consumer = AIOKafkaConsumer(
        Topics(namespace).stock, bootstrap_servers=bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        found: list[tuple[str, StockObserved]] = []
        while batch := await consumer.getmany(timeout_ms=1000):
            found += [
                ((r.key or b"").decode(), StockObserved.model_validate_json(r.value or b""))
                for records in batch.values()
                for r in records
            ]
        return found
    finally:
        await consumer.stop()

"""Stock direction end to end: stock-publisher as a process, real Kafka, both simulators.

The full-size run (2,000 adjustments) is the benchmark (tests/bench/bench_stock.py); here 600
adjustments of the same shape keep the suite fast.
"""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from schemas.stock import StockObserved
from schemas.topics import Topics
from services.stock_publisher.push import GROUP_SUFFIX
from tests.e2e.stock_setup import adjust_randomly, converge_time, prepare
from tests.fixtures.rackbeat_sim import RackbeatSim
from tests.fixtures.services import StartService
from tests.fixtures.shopbox_sim import ShopboxSim

ADJUSTMENTS = 600


# Both profiles: the evidence delivery body {key_name, key} and the strict {item, ...} one.
# The changed-since poll finds the dropped webhooks' items only if a stock move bumps
# `updated_at`; without that (strict) only the full sweep does, which the 10 s bound below does
# not allow for (tests/contract/test_rackbeat_list_filters.py covers that case).
@pytest.mark.covers_profiles
@pytest.mark.parametrize("rackbeat_sim", ["evidence", "strict"], indirect=True)
@pytest.mark.rackbeat_switches(stock_bumps_updated_at="yes")
async def test_converges_with_dropped_webhooks_and_coalesces_writes(
    shopbox_sim: ShopboxSim,
    rackbeat_sim: RackbeatSim,
    kafka_bootstrap: str,
    topic_namespace: str,
    start_service: StartService,
) -> None:
    world = await prepare(shopbox_sim, rackbeat_sim, kafka_bootstrap, topic_namespace)
    await world.start(start_service)
    await converge_time(world, time.monotonic(), timeout=30)  # the start-up sweep
    await rackbeat_sim.set_faults(webhook_drop_rate=0.3)
    writes_before = await world.stock_writes()

    began = time.monotonic()
    last = await adjust_randomly(world, ADJUSTMENTS)
    seconds = await converge_time(world, last, timeout=15)

    writes = await world.stock_writes() - writes_before
    stats = await rackbeat_sim.webhook_stats()
    print(
        f"\nconverged {seconds:.2f} s after the last of {ADJUSTMENTS} adjustments; "
        f"{writes} Shopbox writes (ratio {writes / ADJUSTMENTS:.3f}); "
        f"webhooks dropped {stats['dropped']}; adjustments took {last - began:.1f} s"
    )
    assert stats["dropped"] > ADJUSTMENTS * 0.2  # the fault really happened
    assert seconds < 10
    assert writes < ADJUSTMENTS / 2  # ~6 changes per key over the run (docs/benchmarks.md)
    status = await world.status()
    assert status["counters"]["webhooks_accepted"] > 0
    assert status["unmapped_sku_count"] == 0


async def test_bad_webhooks_get_4xx_and_publish_nothing(
    shopbox_sim: ShopboxSim,
    rackbeat_sim: RackbeatSim,
    kafka_bootstrap: str,
    topic_namespace: str,
    start_service: StartService,
) -> None:
    world = await prepare(shopbox_sim, rackbeat_sim, kafka_bootstrap, topic_namespace, items=3)
    await world.start(start_service)
    item = world.items[0].rackbeat_item
    body = {"event": "inventory.changed", "key": item, "key_name": "number", "data": {}}
    async with httpx.AsyncClient(base_url=world.url) as client:
        wrong = await client.post(
            "/webhooks/rackbeat", json=body, headers={"Rackbeat-Webhook-Token": "nope"}
        )
        missing = await client.post("/webhooks/rackbeat", json=body)
        hooks = rackbeat_sim.state.bus.hooks.values()
        token = next(h.token for h in hooks if h.event == "inventory.changed")
        good = {"Rackbeat-Webhook-Token": token}
        garbage = await client.post("/webhooks/rackbeat", content=b"{", headers=good)
        other = await client.post(
            "/webhooks/rackbeat", json={**body, "event": "order.created"}, headers=good
        )
    assert (wrong.status_code, missing.status_code) == (401, 401)
    assert "does not match" in wrong.json()["error"]
    assert token not in wrong.text
    assert (garbage.status_code, other.status_code) == (400, 422)
    assert "unsupported event" in other.json()["error"]
    sources = await _sources(kafka_bootstrap, Topics(topic_namespace).stock)
    assert "stock-publisher/webhook" not in sources
    status = await world.status()
    assert status["counters"]["webhooks_rejected"] == 4


async def test_converges_through_shopbox_faults_and_a_crash(
    shopbox_sim: ShopboxSim,
    rackbeat_sim: RackbeatSim,
    kafka_bootstrap: str,
    topic_namespace: str,
    start_service: StartService,
    kafka_admin: AIOKafkaAdminClient,
) -> None:
    world = await prepare(
        shopbox_sim,
        rackbeat_sim,
        kafka_bootstrap,
        topic_namespace,
        items=20,
        STOCK_FULL_SWEEP_INTERVAL_S="600",
    )
    service = await world.start(start_service)
    await converge_time(world, time.monotonic(), timeout=30)

    # ~40 SKU/branch pairs change, so the writes outrun the bucket and meet both faults;
    # waiting for them to be seen (not a fixed sleep) keeps this true on a slow machine. A
    # per-second window (strict) holds one call, so 6/min there would admit one call per 10 s
    # and a 500 among them would be luck: 60/min admits one a second.
    per_second = shopbox_sim.state.rate_limit_window == "second"
    await shopbox_sim.set_faults(error_rate=0.4, rate_limit_per_minute=60 if per_second else 6)
    await adjust_randomly(world, 150, seed=11)
    assert await _faults_seen(shopbox_sim, timeout=30), "the writes never met a 500 and a 429"
    await shopbox_sim.set_faults(error_rate=0.0, rate_limit_per_minute=None)
    await converge_time(world, time.monotonic(), timeout=30)

    group = f"{topic_namespace}{GROUP_SUFFIX}"
    committed = await kafka_admin.list_consumer_group_offsets(group)
    assert committed and all(meta.offset > 0 for meta in committed.values())

    await adjust_randomly(world, 100, seed=12)
    service.kill()
    await adjust_randomly(world, 100, seed=13)  # while it is down: webhooks fail, poll catches up
    await service.restart()
    await converge_time(world, time.monotonic(), timeout=30)


async def _faults_seen(shopbox_sim: ShopboxSim, timeout: float) -> bool:
    """True once Shopbox has answered at least one 500 and one 429."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        counts = await shopbox_sim.request_counts()
        if counts.get("500", 0) > 0 and counts.get("429", 0) > 0:
            return True
        await asyncio.sleep(0.1)
    return False


async def _sources(bootstrap: str, topic: str) -> set[str]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        batch = await consumer.getmany(timeout_ms=2000)
        return {
            StockObserved.model_validate_json(r.value or b"").source
            for records in batch.values()
            for r in records
        }
    finally:
        await consumer.stop()

"""Stock benchmark: Rackbeat change -> Shopbox value, and write coalescing.

Phase 1 (latency): 100 single stock changes, 300 ms apart, webhooks delivered; a watcher in the
simulators' process (5 ms resolution) notes when Shopbox shows each new figure. Phase 2
(coalescing): 2,000 adjustments over 50 SKUs x 2 locations with 30% of webhooks dropped; the
time from the last one until every SKU and branch matches, and Shopbox writes per adjustment.
stock-publisher runs as a process with its default push/debounce settings, poll every 1 s.
"""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from aiokafka.admin import AIOKafkaAdminClient

from infra.processes import SERVICES
from infra.simulators.common import serve_in_loop
from infra.simulators.rackbeat import RackbeatConfig
from infra.simulators.rackbeat import create_app as rackbeat_app
from infra.simulators.shopbox import ShopboxConfig
from infra.simulators.shopbox import create_app as shopbox_app
from schemas.topics import ensure_topics
from tests.e2e.stock_setup import StockWorld, adjust_randomly, converge_time, prepare
from tests.fixtures.rackbeat_sim import RackbeatSim
from tests.fixtures.services import RunningService
from tests.fixtures.shopbox_sim import ShopboxSim, demo_shop

LATENCY_SAMPLES = 100
ADJUSTMENTS = 2000


async def main() -> dict[str, float]:
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    namespace = f"bench-{uuid.uuid4().hex[:8]}."
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await ensure_topics(admin, namespace, partitions=3)
    finally:
        await admin.close()
    sb_token, rb_token = f"sb-{secrets.token_hex(6)}", f"rb-{secrets.token_hex(6)}"
    sb, sb_state = shopbox_app(ShopboxConfig(tokens=(sb_token,), seed=demo_shop()))
    rb, rb_state = rackbeat_app(RackbeatConfig(tokens=[rb_token], webhook_base_backoff_s=0.05))
    async with (
        serve_in_loop(sb) as sb_url,
        serve_in_loop(rb) as rb_url,
        httpx.AsyncClient(base_url=sb_url) as sb_ctl,
        httpx.AsyncClient(base_url=f"{rb_url}/_control/") as rb_ctl,
    ):
        shopbox = ShopboxSim(sb_url, f"{sb_url}/api/v3", sb_token, sb_state, sb_ctl)
        rackbeat = RackbeatSim(rb_url, rb_token, rb_state, rb_ctl)
        world = await prepare(
            shopbox, rackbeat, bootstrap, namespace, KAFKA_BOOTSTRAP_SERVERS=bootstrap
        )
        process = next(p for p in SERVICES if p.name == "stock-publisher")
        log = Path(tempfile.mkdtemp()) / "stock-publisher.log"
        service = RunningService(process, world.port, {**os.environ, **world.env}, log)
        service.start()
        try:
            await service.wait_ready()
            await converge_time(world, time.monotonic(), timeout=60)
            latencies = await _latencies(world)
            await rackbeat.set_faults(webhook_drop_rate=0.3)
            before = await world.stock_writes()
            began = time.monotonic()
            last = await adjust_randomly(world, ADJUSTMENTS, seed=2000)
            converge_s = await converge_time(world, last, timeout=60)
            writes = await world.stock_writes() - before
        finally:
            service.terminate()
    latencies.sort()
    return {
        "latency_median_ms": round(statistics.median(latencies) * 1000, 1),
        "latency_p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 1),
        "adjustments": ADJUSTMENTS,
        "adjustments_duration_s": round(last - began, 1),
        "converged_after_last_s": round(converge_s, 2),
        "shopbox_writes": writes,
        "writes_per_adjustment": round(writes / ADJUSTMENTS, 3),
    }


async def _latencies(world: StockWorld) -> list[float]:
    rng = random.Random(7)
    found: list[float] = []
    for _ in range(LATENCY_SAMPLES):
        item = rng.choice(world.items)
        location = rng.choice((1, 2))
        await world.rackbeat.stock(
            item.rackbeat_item, location, quantity=rng.choice((-2, -1, 1, 3))
        )
        started = time.monotonic()
        want = world.rackbeat_figure(item, location)
        while world.shopbox_figure(item, location) != want:
            if time.monotonic() - started > 30:
                raise AssertionError(f"{item.sku}@{location} never reached {want}")
            await asyncio.sleep(0.005)
        found.append(time.monotonic() - started)
        await asyncio.sleep(0.3)
    return found


if __name__ == "__main__":
    print(asyncio.run(main()))

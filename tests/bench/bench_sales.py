"""Sales benchmark: latency from basket creation at the Shopbox till to the Rackbeat order.

500 sales are rung up at a steady 10/s in the Shopbox simulator with the push webhook on; both
services run as processes against the real broker. A watcher in the simulators' process notes
when each order appears (5 ms resolution), so the figure spans webhook, fetch, Kafka, writer and
the Rackbeat writes. Rate limits are off on both sides (the simulator's capacity, not Rackbeat's
480 calls/min: with two calls per sale that limit alone caps the writer at ~4 sales/s).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import secrets
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from aiokafka.admin import AIOKafkaAdminClient

from domain.sales.orders import order_reference
from infra.processes import SERVICES
from infra.simulators.common import Faults, free_port, serve_in_loop
from infra.simulators.rackbeat import RackbeatConfig
from infra.simulators.rackbeat import create_app as rackbeat_app
from infra.simulators.shopbox import DEMO_SHOP, ShopboxConfig
from infra.simulators.shopbox import create_app as shopbox_app
from schemas.topics import ensure_topics
from tests.e2e.sales_harness import (
    build_catalog,
    publish_bindings,
    reference_of,
    sale_lines,
    service_env,
)
from tests.fixtures.services import RunningService

SALES = 500
RATE_PER_S = 10.0
SECRET = "bench-hook-secret"


class _Sim:
    """What `service_env` reads from a simulator."""

    def __init__(self, api_url: str, token: str) -> None:
        self.api_url, self.token = api_url, token


def _demo_shop() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DEMO_SHOP.read_text("utf-8"))
    return loaded


async def main(unbindable: float = 0.0) -> dict[str, float]:
    """The benchmark; with `unbindable` > 0, that share of the sales sells a product that has
    no binding (it waits, then goes to the dead letters) and the figures are the other sales'."""
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    namespace = f"bench-{uuid.uuid4().hex[:8]}."
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await ensure_topics(admin, namespace, partitions=3)
    finally:
        await admin.close()
    shop = _demo_shop()
    catalog = build_catalog(shop)
    sb_token, rb_token = f"sb-{secrets.token_hex(6)}", f"rb-{secrets.token_hex(6)}"
    sb, sb_state = shopbox_app(ShopboxConfig(tokens=(sb_token,), seed=shop))
    rb, rb_state = rackbeat_app(
        RackbeatConfig(tokens=[rb_token], faults=Faults(), seed=catalog.rackbeat_seed)
    )
    await publish_bindings(bootstrap, namespace, catalog.items)
    async with serve_in_loop(sb) as sb_url, serve_in_loop(rb) as rb_url:
        env = {
            **os.environ,
            **service_env(
                namespace,
                _Sim(f"{sb_url}/api/v3", sb_token),
                _Sim(f"{rb_url}/api", rb_token),
                SECRET,
                KAFKA_BOOTSTRAP_SERVERS=bootstrap,
                LOG_FORMAT="json",
                LOG_LEVEL="WARNING",
            ),
        }
        logs = Path(tempfile.mkdtemp(prefix="bench-sales-"))
        running = []
        for name in ("order-ingest", "order-writer"):
            port = free_port()
            process = next(p for p in SERVICES if p.name == name)
            service = RunningService(
                process, port, {**env, "HTTP_PORT": str(port)}, logs / f"{name}.log"
            )
            service.start()
            running.append(service)
        for service in running:
            await service.wait_ready()
        sb_state.webhook_url = f"{running[0].url}/webhooks/shopbox"
        sb_state.webhook_secret = SECRET
        try:
            unbound = _unbound_product(shop, catalog)
            return await _measure(sb_url, rb_state, catalog, unbindable, unbound)
        finally:
            for service in running:
                service.terminate()


def _unbound_product(shop: dict[str, Any], catalog: Any) -> int:
    """A plain demo product the catalog published no binding for."""
    bound = {item.product for item in catalog.items}
    return int(
        next(
            p["uid"]
            for p in shop["products"]
            if p["uid"] not in bound and p["sku_code"] and not p["product_variances"]
        )
    )


async def _measure(
    sb_url: str, rb_state: Any, catalog: Any, unbindable: float, unbound: int
) -> dict[str, float]:
    created: dict[str, float] = {}
    landed: dict[str, float] = {}
    done = asyncio.Event()

    waiting = 0

    async def watch() -> None:
        seen = 0
        while len(landed) < SALES - waiting:
            orders = list(rb_state.store.orders.values())
            now = time.perf_counter()
            for order in orders[seen:]:
                landed.setdefault(reference_of(order), now)  # their_reference may be dropped
            seen = len(orders)
            await asyncio.sleep(0.005)
        done.set()

    watcher = asyncio.create_task(watch())
    rng = random.Random(11)
    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=f"{sb_url}/_control") as control:
        for number in range(SALES):
            stuck = rng.random() < unbindable
            lines = [{"product": unbound}] if stuck else sale_lines(rng, catalog.items)
            body = {"branch": rng.choice([1, 2]), "lines": lines}
            before = time.perf_counter()
            response = await control.post("/sale", json=body)
            response.raise_for_status()
            if stuck:
                waiting += 1
            else:
                created[order_reference(str(response.json()["uid"]))] = before
            pause = started + (number + 1) / RATE_PER_S - time.perf_counter()
            await asyncio.sleep(max(0.0, pause))
    await asyncio.wait_for(done.wait(), timeout=300)
    watcher.cancel()
    latencies = sorted((landed[ref] - t) * 1000 for ref, t in created.items())
    assert len(rb_state.store.orders) == SALES - waiting, "exactly one order per bound sale"
    return {
        "sales": SALES,
        "sales_unbindable": waiting,
        "sales_per_s_offered": RATE_PER_S,
        "latency_median_ms": round(statistics.median(latencies), 1),
        "latency_p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 1),
        "latency_max_ms": round(latencies[-1], 1),
    }


if __name__ == "__main__":
    print(asyncio.run(main()))

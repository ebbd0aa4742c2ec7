"""Go-live: sales made before `syncctl initial-sync` are in the stock it copies, so they never
become Rackbeat orders (not by poll, sweep or webhook), while sales after it do; and once the
pipeline is live, initial-sync refuses unless forced (a copy would count booked sales twice).

Real Kafka, both simulators over HTTP, initial-sync as a CLI process, the services as processes.
"""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

from domain.sales.orders import order_reference
from schemas.topics import Topics
from services.common.settings import KafkaSettings
from services.syncctl.go_live import read_cursor
from tests.e2e.sales_harness import orders_by_reference, service_env
from tests.fixtures.rackbeat_sim import RackbeatSim
from tests.fixtures.services import StartService
from tests.fixtures.shopbox_sim import ShopboxSim, demo_shop
from tests.integration.test_item_initial_sync import FAST, cli_env, run_cli
from tests.support import eventually, ledger_entry

SECRET = "start-point-hook-secret"
SKU = "BRD-0002"


def product_uid(sku: str) -> int:
    return int(next(p["uid"] for p in demo_shop()["products"] if p["sku_code"] == sku))


async def cursor_of(kafka_bootstrap: str, namespace: str) -> Any:
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap, topic_namespace=namespace)
    return await read_cursor(kafka, Topics(namespace).sales_cursor)


async def rackbeat_writes(rackbeat: RackbeatSim) -> int:
    counts = await rackbeat.requests()
    return sum(n for key, n in counts.items() if key.split(" ")[0] in ("POST", "PUT", "DELETE"))


async def test_sales_before_the_initial_sync_never_become_orders_and_a_rerun_is_refused(
    kafka_bootstrap: str,
    topic_namespace: str,
    group_id: str,
    start_service: StartService,
    shopbox_sim: ShopboxSim,
    rackbeat_sim: RackbeatSim,
) -> None:
    # Before go-live: one sale now, one an hour ago (inside the sweep window and the old 1 h
    # lookback, both of which used to sync it).
    earlier = await shopbox_sim.sale(
        1, [{"sku": SKU, "quantity": 3}], creation_time=int(time.time()) - 3600
    )
    before = await shopbox_sim.sale(1, [{"sku": SKU, "quantity": 2}])
    await asyncio.sleep(1.1)  # basket times are whole seconds: the start point is a later one

    await rackbeat_sim.set_faults(rate_limit_per_minute=FAST)
    cli = cli_env(kafka_bootstrap, topic_namespace, shopbox_sim, rackbeat_sim)
    code, out = await run_cli(cli)
    assert code == 0, out
    assert "Sync start point set to" in out
    cursor = await cursor_of(kafka_bootstrap, topic_namespace)
    assert cursor is not None and cursor.source == "syncctl/initial-sync"
    assert cursor.payload.floor is not None and cursor.payload.floor > before["creation_time"]

    # Go-live: the services start with a lookback and a sweep window that would both reach the
    # earlier sales; the start point the initial sync set wins.
    env = service_env(
        topic_namespace,
        shopbox_sim,
        rackbeat_sim,
        SECRET,
        ORDER_INGEST_INITIAL_LOOKBACK_S="86400",
        ORDER_INGEST_SWEEP_INTERVAL_S="1",
        ORDER_INGEST_SWEEP_GRACE_S="0",
        ORDER_WRITER_GROUP_ID=group_id,
    )
    ingest = await start_service("order-ingest", env)
    await start_service("order-writer", env)
    await shopbox_sim.set_webhook(f"{ingest.url}/webhooks/shopbox", SECRET)
    after = await shopbox_sim.sale(1, [{"sku": SKU, "quantity": 1}])
    orders = rackbeat_sim.state.store.orders
    await eventually(lambda: len(orders) >= 1, timeout=30)

    async with httpx.AsyncClient() as http:  # a late push of an old sale: ignored, with a reason
        late = await http.post(
            f"{ingest.url}/webhooks/shopbox",
            params={"shopbox_hook_id": SECRET},
            json={"event": "basket.created", "basket_uid": before["uid"]},
        )
        assert late.status_code == 200, late.text
        assert late.json()["published"] == [] and "start point" in late.json()["ignored"]
        await asyncio.sleep(3.5)  # three sweeps over a window that covers every sale
        status = (await http.get(f"{ingest.url}/status")).json()

    by_reference = orders_by_reference(orders)
    assert set(by_reference) == {order_reference(str(after["uid"]))}
    assert len(by_reference[order_reference(str(after["uid"]))]) == 1
    assert status["ignored_before_start_point"] >= 1
    assert status["cursor"]["floor"] == cursor.payload.floor
    logged = [line for line in ingest.log_tail(400).splitlines() if "start point ignored" in line]
    assert any(str(before["uid"]) in line for line in logged), logged
    assert earlier["uid"] not in {o.their_reference for o in orders.values()}

    # Stock counted once: Rackbeat's available figure equals Shopbox's after all three sales.
    item = rackbeat_sim.state.store.totals(SKU, location=1)
    assert item.available == Decimal(str(shopbox_sim.stock(1, product_uid(SKU))))
    assert item.in_order == 1

    # After go-live a second initial-sync refuses and writes nothing; --dry-run warns.
    writes = await rackbeat_writes(rackbeat_sim)
    code, out = await run_cli(cli)
    assert code == 2, out
    assert "refused" in out and "double-count" in out and "orders.synced.v1" in out
    code, out = await run_cli(cli, "--dry-run")
    assert code == 0, out
    assert "Warning" in out and "double-count" in out
    assert await rackbeat_writes(rackbeat_sim) == writes
    # --force runs, and leaves order-ingest's start point alone.
    code, out = await run_cli(cli, "--force")
    assert code == 0, out
    assert "--force" in out and "left as it is" in out
    moved = await cursor_of(kafka_bootstrap, topic_namespace)
    assert moved is not None and moved.payload.floor == cursor.payload.floor


async def test_initial_sync_refuses_on_a_ledger_with_entries_and_proceeds_with_force(
    kafka_bootstrap: str,
    topic_namespace: str,
    shopbox_sim: ShopboxSim,
    rackbeat_sim: RackbeatSim,
) -> None:
    await rackbeat_sim.set_faults(rate_limit_per_minute=FAST)
    cli = cli_env(kafka_bootstrap, topic_namespace, shopbox_sim, rackbeat_sim)
    # A re-run before go-live is a resume: allowed, and it moves the start point to itself.
    code, out = await run_cli(cli)
    assert code == 0, out
    first = await cursor_of(kafka_bootstrap, topic_namespace)
    await asyncio.sleep(1.1)
    code, out = await run_cli(cli)
    assert code == 0, out
    second = await cursor_of(kafka_bootstrap, topic_namespace)
    assert first is not None and second is not None
    assert second.payload.floor > first.payload.floor

    await publish_ledger_entry(kafka_bootstrap, topic_namespace, "4711")
    writes = await rackbeat_writes(rackbeat_sim)
    await shopbox_sim.set_stock(1, 99, product=product_uid(SKU))
    code, out = await run_cli(cli)
    assert code == 2, out
    assert "1 order records on the ledger" in out
    assert await rackbeat_writes(rackbeat_sim) == writes
    assert rackbeat_sim.state.store.totals(SKU, location=1).stock != 99

    code, out = await run_cli(cli, "--force")
    assert code == 0, out
    assert rackbeat_sim.state.store.totals(SKU, location=1).stock == 99
    third = await cursor_of(kafka_bootstrap, topic_namespace)
    assert third is not None and third.payload.floor == second.payload.floor


async def publish_ledger_entry(bootstrap: str, namespace: str, basket_id: str) -> None:
    event = ledger_entry(basket_id)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(
            Topics(namespace).orders_synced,
            event.model_dump_json().encode(),
            key=basket_id.encode(),
        )
    finally:
        await producer.stop()

"""A sale re-driven after its item was created is not counted twice (issue #14 item 4), with
item-mapper (Shopbox as item master), order-ingest, order-writer and stock-publisher as
processes, the real broker and both simulators over HTTP.

BRD-0001 (product 100001, 8 on the shelf in branch 1) shares its SKU with 100260, so item-mapper
creates nothing and a sale of 1 is dead-lettered. Fixing the other product's SKU makes
item-mapper create BRD-0001 with Shopbox's figure, 7, which already counts the sale. After
`syncctl dlq redrive`, the order reserves the unit and order-writer gives it back: Rackbeat shows
stock 8, 1 in order, available 7, and stock-publisher leaves Shopbox at 7 (before the fix: 6).
"""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

from infra.simulators.common import free_port
from schemas.orders import OrderSynced
from schemas.stock import StockObserved, StockPushed, stock_key
from schemas.topics import Topics
from services.common.bindings import BindingsView
from services.common.readers import read_records
from services.common.settings import KafkaSettings
from services.common.views import CompactedView
from tests.e2e.sales_harness import orders_by_reference, service_env
from tests.e2e.test_sales_pipeline import syncctl
from tests.fixtures.rackbeat_sim import RackbeatSim
from tests.fixtures.services import StartService
from tests.fixtures.shopbox_sim import ShopboxSim
from tests.support import eventually

SKU = "BRD-0001"
PRODUCT, OTHER = 100001, 100260


async def test_a_sale_redriven_after_its_item_was_created_with_shopbox_stock_counts_once(
    start_service: StartService,
    topic_namespace: str,
    kafka_bootstrap: str,
    group_id: str,
    shopbox_sim: ShopboxSim,
    rackbeat_sim: RackbeatSim,
) -> None:
    await rackbeat_sim.set_faults(rate_limit_per_minute=None)
    port = free_port()
    env = service_env(
        topic_namespace,
        shopbox_sim,
        rackbeat_sim,
        "e2e-hook-secret",
        SYNC_ITEM_MASTER="shopbox",
        SYNC_BRANCH_LOCATIONS=json.dumps({"1": 1}),
        ITEM_MAPPER_POLL_INTERVAL_S="0.5",
        ITEM_MAPPER_FULL_PASS_INTERVAL_S="1",
        ORDER_WRITER_GROUP_ID=group_id,
        STOCK_PUBLIC_URL=f"http://127.0.0.1:{port}",
        STOCK_POLL_INTERVAL_S="1",
        STOCK_FULL_SWEEP_INTERVAL_S="15",
    )
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap, topic_namespace=topic_namespace)
    topics = Topics(topic_namespace)
    bindings = BindingsView(kafka, topics.bindings)
    ledger = CompactedView(kafka, topics.orders_synced, OrderSynced)
    observed = CompactedView(kafka, topics.stock, StockObserved)
    for view in (bindings, ledger, observed):
        await view.start()
    try:
        assert shopbox_sim.stock(1, PRODUCT) == 8
        await start_service("item-mapper", env)
        await start_service("order-ingest", env)
        await start_service("order-writer", env)
        await start_service("stock-publisher", {**env, "HTTP_PORT": str(port)})
        await eventually(lambda: bindings.by_sku("TOJ-0001-XL") is not None, timeout=90)
        assert bindings.by_sku(SKU) is None  # a duplicate SKU is never bound by guess

        basket = await shopbox_sim.sale(1, [{"product": PRODUCT, "quantity": 1}])
        assert shopbox_sim.stock(1, PRODUCT) == 7

        async def dead_lettered() -> bool:
            return SKU in syncctl(topic_namespace, kafka_bootstrap, "dlq", "list")

        await eventually(dead_lettered, timeout=30, every=1)

        # The operator fixes the other product's SKU: BRD-0001 is created with Shopbox's 7.
        await shopbox_sim.edit_product(uid=OTHER, sku_code=f"{SKU}-B")
        await eventually(lambda: bindings.by_sku(SKU) is not None, timeout=30)
        binding = bindings.by_sku(SKU)
        assert binding is not None and binding.stock_copied_at is not None
        store = rackbeat_sim.state.store
        assert Decimal(store.totals(SKU, location=1, key=None).stock) == 7

        out = syncctl(
            topic_namespace,
            kafka_bootstrap,
            "dlq",
            "redrive",
            "--topic",
            "shopbox.sales.v1",
            "--all",
        )
        assert "1 re-driven" in out
        reference = f"shopbox-basket-{basket['uid']}"
        await eventually(lambda: reference in orders_by_reference(store.orders), timeout=30)

        def given_back() -> bool:
            synced = ledger.get(str(basket["uid"]))
            return synced is not None and synced.payload.stock_returned

        await eventually(given_back, timeout=30)
        level = store.totals(SKU, location=1, key=None)
        assert (Decimal(level.stock), Decimal(level.in_order)) == (Decimal(8), Decimal(1))

        # stock-publisher read the figure after the order and the give-back (a read between
        # the two sees 7 in stock, 1 in order), and Shopbox stays at 7.
        def read_after_the_order() -> bool:
            event = observed.get(stock_key(SKU, 1))
            level = event.payload if event is not None else None
            quantities = (level.stock_quantity, level.in_order_quantity) if level else None
            return quantities == (Decimal(8), Decimal(1))

        await eventually(read_after_the_order, timeout=30)
        event = observed.get(stock_key(SKU, 1))
        assert event is not None and event.payload.available_quantity == 7
        await asyncio.sleep(4)  # past the push's quiet period and its latest delay
        assert shopbox_sim.stock(1, PRODUCT) == 7
        pushes = [
            StockPushed.model_validate_json(record.value)
            for record in await read_records(kafka, topics.stock_pushed)
            if record.value
        ]
        assert [p.payload.quantity for p in pushes if p.payload.sku == SKU] in ([], [7])
    finally:
        for view in (bindings, ledger, observed):
            await view.stop()

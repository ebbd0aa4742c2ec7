"""item-mapper as a process (Shopbox master) on the demo shop: a Rackbeat item it creates starts
with the product's Shopbox stock (per mapped branch, per variant) before its binding appears, so
stock-publisher never sees it bound at 0; fixing a duplicate SKU binds the remaining product too;
a SKU that left Shopbox has its binding tombstoned.
"""

from __future__ import annotations

import json
from decimal import Decimal

from schemas.topics import Topics
from services.common.bindings import BindingsView
from services.common.settings import KafkaSettings
from tests.e2e.test_items_master import FAST, env_for, shopbox_product, status_of
from tests.fixtures.rackbeat_sim import RackbeatSim
from tests.fixtures.services import StartService
from tests.fixtures.shopbox_sim import ShopboxSim
from tests.support import eventually


def rackbeat_stock(rackbeat: RackbeatSim, item: str, location: int, option: int | None) -> Decimal:
    key = (option,) if option is not None else None
    return Decimal(rackbeat.state.store.totals(item, location=location, key=key).stock)


async def test_new_items_carry_shopbox_stock_and_duplicate_and_gone_skus_are_rebound(
    start_service: StartService,
    topic_namespace: str,
    kafka_bootstrap: str,
    shopbox_sim: ShopboxSim,
    rackbeat_sim: RackbeatSim,
) -> None:
    await rackbeat_sim.set_faults(rate_limit_per_minute=int(FAST))
    env = env_for("shopbox", topic_namespace, shopbox_sim, rackbeat_sim)
    env |= {"SYNC_BRANCH_LOCATIONS": json.dumps({"1": 1}), "ITEM_MAPPER_FULL_PASS_INTERVAL_S": "1"}
    await shopbox_sim.set_stock(1, -3, sku="BRD-0003")  # oversold: copied as it is, and reported
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap, topic_namespace=topic_namespace)
    view = BindingsView(kafka, Topics(topic_namespace).bindings)
    await view.start()
    try:
        service = await start_service("item-mapper", env=env)
        store = rackbeat_sim.state.store
        await eventually(lambda: view.by_sku("TOJ-0001-XL") is not None, timeout=90)

        # Variants: each option of the created item holds its variance's branch-1 stock.
        shirt = shopbox_product(shopbox_sim, "TOJ-0001")
        wants = []
        for variance in shirt.variances.values():
            binding = view.by_sku(variance.sku_code)
            assert binding is not None and binding.rackbeat_option_id is not None
            wants.append(Decimal(str(shopbox_sim.stock(1, shirt.uid, variance.uid))))
            option = int(binding.rackbeat_option_id)
            assert rackbeat_stock(rackbeat_sim, "TOJ-0001", 1, option) == wants[-1]
        assert len(wants) > 1 and any(wants)
        assert rackbeat_stock(rackbeat_sim, "BRD-0002", 1, None) == 12  # demo shop figure
        assert rackbeat_stock(rackbeat_sim, "BRD-0002", 2, None) == 0  # branch 2 is unmapped
        status = await status_of(service)
        assert status["unmapped_branches"] == ["2"]
        assert status["stock_figures_copied_on_create"] > 100
        assert rackbeat_stock(rackbeat_sim, "BRD-0003", 1, None) == -3
        assert status["negative_stock_copied"] == [
            {"sku": "BRD-0003", "item": "BRD-0003", "location": 1, "quantity": "-3"}
        ]

        # BRD-0001 is used by 100001 (8 in branch 1) and 100260: nothing is created or bound.
        assert "BRD-0001" not in store.products and view.by_sku("BRD-0001") is None
        await shopbox_sim.edit_product(uid=100260, sku_code="BRD-0001-B")

        # Renaming 100260 binds 100001 too; its binding appears only after its stock is copied.
        seen_at_binding: list[Decimal] = []

        def bound() -> bool:
            binding = view.by_sku("BRD-0001")
            if binding is not None and not seen_at_binding:
                seen_at_binding.append(rackbeat_stock(rackbeat_sim, "BRD-0001", 1, None))
            return binding is not None

        await eventually(bound, timeout=15)
        assert seen_at_binding == [Decimal(8)]
        binding = view.by_sku("BRD-0001")
        assert binding is not None and binding.shopbox_product_id == "100001"
        await eventually(lambda: view.by_sku("BRD-0001-B") is not None, timeout=10)
        assert rackbeat_stock(rackbeat_sim, "BRD-0001-B", 1, None) == 12
        assert shopbox_sim.stock(1, 100001) == 8

        # An update never copies stock again: once the item exists, Rackbeat owns the figure.
        await shopbox_sim.set_stock(1, 3, product=100001)
        await shopbox_sim.edit_product(uid=100001, name="Rugbrød omdøbt")
        await eventually(lambda: store.products["BRD-0001"].name == "Rugbrød omdøbt", timeout=10)
        assert rackbeat_stock(rackbeat_sim, "BRD-0001", 1, None) == 8

        # A SKU that leaves Shopbox loses its binding (tombstone) after the next full pass.
        old = view.get("BRD-0002")
        assert old is not None
        product = shopbox_product(shopbox_sim, "BRD-0002")
        await shopbox_sim.edit_product(uid=product.uid, sku_code="BRD-0002-N")
        await eventually(lambda: view.get("BRD-0002") is None, timeout=15)
        await eventually(lambda: view.by_sku("BRD-0002-N") is not None, timeout=10)
        assert rackbeat_stock(rackbeat_sim, "BRD-0002-N", 1, None) == 12
        status = await status_of(service)
        assert status["bindings_retracted"] == 1
        assert view.get("BRD-0001") is not None and view.get("TOJ-0001-XL") is not None
    finally:
        await view.stop()

"""item-mapper as a process (as `make run` starts it) with each SYNC_ITEM_MASTER setting, against
both simulators over HTTP and the real broker: master-side edits arrive on the other side within
seconds, other-side edits do not travel back, `none` moves nothing, and a Rackbeat item with
variations is skipped and reported instead of being created in Shopbox.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.fixtures.rackbeat_sim import RackbeatSim
from tests.fixtures.services import RunningService, StartService
from tests.fixtures.shopbox_sim import ShopboxSim
from tests.support import eventually

pytestmark = pytest.mark.covers_profiles

FAST = "60000"


def env_for(
    master: str, namespace: str, shopbox: ShopboxSim, rackbeat: RackbeatSim
) -> dict[str, str]:
    return {
        "SYNC_ITEM_MASTER": master,
        "KAFKA_TOPIC_NAMESPACE": namespace,
        "SHOPBOX_BASE_URL": shopbox.api_url,
        "SHOPBOX_API_TOKEN": shopbox.token,
        "RACKBEAT_BASE_URL": rackbeat.api_url,
        "RACKBEAT_API_TOKEN": rackbeat.token,
        "RACKBEAT_REQUESTS_PER_MINUTE": FAST,
        "ITEM_MAPPER_POLL_INTERVAL_S": "0.5",
    }


async def status_of(service: RunningService) -> dict[str, Any]:
    async with httpx.AsyncClient() as client:
        body: dict[str, Any] = (await client.get(f"{service.url}/status")).json()
    return body


def shopbox_product(shopbox: ShopboxSim, sku: str) -> Any:
    return next(p for p in shopbox.state.shop.products.values() if p.sku_code == sku)


# Both simulator profiles: strict ignores Shopbox's product filters, sends ISO updated_at,
# removes variants a partial update leaves out, refuses Rackbeat's updated_at_from and serves
# variation types only as sub-resources.
BOTH_PROFILES = pytest.mark.parametrize(
    ("shopbox_sim", "rackbeat_sim"),
    [("evidence", "evidence"), ("strict", "strict")],
    indirect=True,
    ids=["evidence", "strict"],
)


@BOTH_PROFILES
async def test_shopbox_master_edits_arrive_in_rackbeat_and_rackbeat_edits_stay(
    start_service: StartService,
    topic_namespace: str,
    shopbox_sim: ShopboxSim,
    rackbeat_sim: RackbeatSim,
) -> None:
    await rackbeat_sim.set_faults(rate_limit_per_minute=int(FAST))
    store = rackbeat_sim.state.store
    service = await start_service(
        "item-mapper", env=env_for("shopbox", topic_namespace, shopbox_sim, rackbeat_sim)
    )
    assert (await status_of(service))["item_master"] == "shopbox"
    await eventually(lambda: len(store.products) == 298, timeout=60)  # 302, 4 bad SKUs
    assert store.products["TOJ-0001"].variation_id is not None
    assert "BRD-0001" not in store.products  # a duplicate SKU is never synced by guess

    # A Shopbox edit (name, price incl. VAT in øre, description) arrives within seconds.
    product = shopbox_product(shopbox_sim, "BRD-0002")
    await shopbox_sim.edit_product(
        uid=product.uid, name="Rugbrød XL", selling_price=5000, description="Stort"
    )
    await eventually(lambda: store.products["BRD-0002"].name == "Rugbrød XL", timeout=10)
    assert store.products["BRD-0002"].sales_price == Decimal("40.00")
    assert store.products["BRD-0002"].description == "Stort"

    # A new variant in Shopbox becomes a new option of the product's Rackbeat variation.
    shirt = shopbox_product(shopbox_sim, "TOJ-0001")
    await shopbox_sim.edit_product(
        uid=shirt.uid,
        variants=[
            {
                "sku_code": "TOJ-0001-XXL",
                "selling_price": 35800,
                "variance_values": [{"name": "XXL", "variance_type": "Størrelse"}],
            }
        ],
    )
    variation_id = store.products["TOJ-0001"].variation_id or -1

    def has_xxl() -> bool:
        return any(o.name == "XXL" for o in store.variations[variation_id].types[0].options)

    await eventually(has_xxl, timeout=10)

    # A Rackbeat edit does not travel back to Shopbox, and an edit that changes nothing in
    # the synced fields writes nothing to Rackbeat.
    await rackbeat_sim.edit_product("BRD-0003", name="Changed in Rackbeat")
    before = await rackbeat_sim.requests()
    other = shopbox_product(shopbox_sim, "BRD-0004")
    await shopbox_sim.edit_product(uid=other.uid, name=other.name)  # same value, bumps updated_at
    await asyncio.sleep(3)
    after = await rackbeat_sim.requests()
    assert shopbox_product(shopbox_sim, "BRD-0003").name != "Changed in Rackbeat"
    assert store.products["BRD-0003"].name == "Changed in Rackbeat"
    assert after.get("PUT /api/products/{number:path}", 0) == before.get(
        "PUT /api/products/{number:path}", 0
    )
    status = await status_of(service)
    assert status["sku_problems"] >= 3 and status["items"]["skipped"] == 4


@BOTH_PROFILES
async def test_rackbeat_master_edits_arrive_in_shopbox_and_variant_items_are_skipped(
    start_service: StartService,
    topic_namespace: str,
    shopbox_sim: ShopboxSim,
    rackbeat_sim: RackbeatSim,
) -> None:
    await rackbeat_sim.set_faults(rate_limit_per_minute=int(FAST))
    await rackbeat_sim.seed(
        {
            "variations": [
                {
                    "id": 900,
                    "name": "Tøj",
                    "types": [
                        {"id": 901, "name": "Størrelse", "options": [{"id": 902, "name": "S"}]}
                    ],
                }
            ],
            "products": [
                {"number": "RB-NEW-1", "name": "Kaffe", "group": 1, "sales_price": "80.00"},
                {"number": "BRD-0002", "name": "Rugbrød RB", "group": 1, "sales_price": "20.00"},
                {
                    "number": "RB-SHIRT",
                    "name": "Skjorte",
                    "group": 1,
                    "sales_price": "100.00",
                    "variation_id": 900,
                },
            ],
        }
    )
    service = await start_service(
        "item-mapper", env=env_for("rackbeat", topic_namespace, shopbox_sim, rackbeat_sim)
    )
    shop = shopbox_sim.state.shop

    def find(sku: str) -> Any:
        return next((p for p in shop.products.values() if p.sku_code == sku), None)

    # Created in Shopbox with the price incl. VAT; an existing product is updated in place.
    await eventually(lambda: find("RB-NEW-1") is not None, timeout=15)
    assert find("RB-NEW-1").selling_price == 10000
    await eventually(lambda: find("BRD-0002").name == "Rugbrød RB", timeout=10)
    assert find("BRD-0002").selling_price == 2500

    # An edit in Rackbeat arrives within seconds.
    await rackbeat_sim.edit_product("RB-NEW-1", name="Kaffe stor", description="500 g")
    await eventually(lambda: find("RB-NEW-1").name == "Kaffe stor", timeout=10)
    assert find("RB-NEW-1").description == "500 g"

    # The variant item is skipped with a reason and never created in Shopbox.
    async def skipped_reported() -> bool:
        skipped: int = (await status_of(service))["items"].get("skipped", 0)
        return skipped >= 1

    await eventually(skipped_reported, timeout=10)
    assert find("RB-SHIRT") is None
    assert "SYNC_ITEM_MASTER=shopbox" in service.log_tail(200)

    # A Shopbox edit does not travel back to Rackbeat.
    await shopbox_sim.edit_product(uid=find("RB-NEW-1").uid, name="Changed in Shopbox")
    await asyncio.sleep(2)
    assert rackbeat_sim.state.store.products["RB-NEW-1"].name == "Kaffe stor"


async def test_master_none_moves_nothing(
    start_service: StartService,
    topic_namespace: str,
    shopbox_sim: ShopboxSim,
    rackbeat_sim: RackbeatSim,
) -> None:
    await rackbeat_sim.seed(
        {"products": [{"number": "RB-ONLY", "name": "Kun RB", "group": 1, "sales_price": "8"}]}
    )
    service = await start_service(
        "item-mapper", env=env_for("none", topic_namespace, shopbox_sim, rackbeat_sim)
    )
    assert (await status_of(service))["item_master"] == "none"
    product = shopbox_product(shopbox_sim, "BRD-0002")
    await shopbox_sim.edit_product(uid=product.uid, name="Edited in Shopbox")
    await rackbeat_sim.edit_product("RB-ONLY", name="Edited in Rackbeat")
    await asyncio.sleep(3)
    assert set(rackbeat_sim.state.store.products) == {"RB-ONLY"}
    assert not any(p.sku_code == "RB-ONLY" for p in shopbox_sim.state.shop.products.values())
    shopbox_calls = await shopbox_sim.request_counts()
    assert not any(k.startswith("GET /api/v3/products") for k in shopbox_calls), shopbox_calls

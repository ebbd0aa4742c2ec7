"""Shopbox create-or-update with a partial `variants` list: the simulator keeps or removes the
variants left out (`variant_update`, docs/api-assumptions.md S3); the client always sends every
variant, so no profile loses one."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from domain.items.rules import PriceRules
from domain.items.to_shopbox import ShopboxWriter
from schemas.items import Binding, ProductSnapshot
from services.clients.shopbox import ProductUpsert, ShopboxClient, VariantUpsert
from tests.fixtures.shopbox_sim import ShopboxSim, demo_shop
from tests.unit.fakes import FakeBindings

pytestmark = pytest.mark.simulators

PROFILES = ("evidence", "strict", "legacy")


def variant_product() -> dict[str, Any]:
    return next(p for p in demo_shop()["products"] if len(p["product_variances"]) >= 3)


def skus(sim: ShopboxSim, uid: int) -> dict[int, str]:
    return {v.uid: v.sku_code for v in sim.state.shop.products[uid].variances.values()}


@pytest.mark.parametrize("shopbox_sim", PROFILES, indirect=True)
async def test_a_partial_variant_list_keeps_or_removes_the_rest_as_the_switch_says(
    shopbox_sim: ShopboxSim,
) -> None:
    product = variant_product()
    first = product["product_variances"][0]
    body = {"uid": product["uid"], "variants": [{"uid": first["uid"], "selling_price": 100}]}
    async with httpx.AsyncClient() as http:
        answer = await http.post(
            f"{shopbox_sim.api_url}/products/create-or-update",
            params={"api-token": shopbox_sim.token},
            json=body,
        )
    assert answer.status_code == 200
    left = [v["uid"] for v in answer.json()["product_variances"]]
    replaced = shopbox_sim.state.switches["variant_update"] == "replace"
    every = [v["uid"] for v in product["product_variances"]]
    assert left == ([first["uid"]] if replaced else every)


@pytest.mark.parametrize("shopbox_sim", PROFILES, indirect=True)
async def test_the_client_updating_one_variant_keeps_the_others(
    shopbox_sim: ShopboxSim, shopbox_client: ShopboxClient
) -> None:
    product = variant_product()
    before = skus(shopbox_sim, product["uid"])
    first = product["product_variances"][0]["uid"]
    upsert = ProductUpsert(
        uid=str(product["uid"]),
        variants=[
            VariantUpsert(uid=str(first), selling_price=Decimal("99.50")),
            VariantUpsert(sku_code="TOJ-NEW", name="Ny", selling_price=Decimal(10)),
        ],
    )
    updated = await shopbox_client.create_or_update_product(upsert)
    after = skus(shopbox_sim, product["uid"])
    assert {uid: sku for uid, sku in after.items() if uid in before} == before
    assert sorted(after.values()) == sorted([*before.values(), "TOJ-NEW"])
    prices = {v.uid: v.selling_price for v in updated.product_variances}
    assert prices[str(first)] == Decimal("99.50")
    untouched = product["product_variances"][1]
    assert prices[str(untouched["uid"])] == Decimal(untouched["selling_price"]) / 100


@pytest.mark.parametrize("shopbox_sim", PROFILES, indirect=True)
async def test_a_rackbeat_item_edit_reaching_one_variant_keeps_the_others(
    shopbox_sim: ShopboxSim, shopbox_client: ShopboxClient
) -> None:
    product = variant_product()
    stored = shopbox_sim.state.shop.products[product["uid"]]
    stored.description = None
    for variance in stored.variances.values():
        variance.description, variance.selling_price = None, stored.selling_price
    edited = next(iter(stored.variances.values()))
    edited.selling_price = stored.selling_price - 1000  # only this variant differs from Rackbeat
    before = skus(shopbox_sim, product["uid"])
    binding = Binding(
        sku=stored.sku_code,
        shopbox_product_id=str(stored.uid),
        rackbeat_item_number=stored.sku_code,
    )
    writer = ShopboxWriter(
        shopbox_client,
        PriceRules(Decimal(25), rackbeat_includes_vat=True),
        FakeBindings([binding]),
    )
    snapshot = ProductSnapshot(
        system="rackbeat",
        product_id=stored.sku_code,
        sku=stored.sku_code,
        name=stored.name,
        price=Decimal(stored.selling_price) / 100,
    )
    outcome = await writer.apply(snapshot)
    assert (outcome.action, outcome.changes) == ("updated", [f"variant {edited.uid}"])
    assert skus(shopbox_sim, product["uid"]) == before
    assert {v.selling_price for v in stored.variances.values()} == {stored.selling_price}

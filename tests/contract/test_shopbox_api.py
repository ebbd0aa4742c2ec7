"""ShopboxClient against the Shopbox simulator over real HTTP: reads, writes, sales and stock."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import httpx
import pytest

from schemas.money import ore_to_kroner
from services.clients.http import NotFound, Unauthorized, ValidationFailed
from services.clients.shopbox import ProductUpsert, ShopboxClient, VariantUpsert
from tests.fixtures.shopbox_sim import FAST_RETRY, ShopboxSim, demo_shop

pytestmark = pytest.mark.simulators

KBH, AARHUS = 1, 2


def variant_product() -> dict[str, Any]:
    return next(p for p in demo_shop()["products"] if len(p["product_variances"]) >= 2)


async def stock_of(
    client: ShopboxClient, branch: int, product: int, variance: int | None
) -> Decimal:
    rows = [
        r
        for r in await client.stock(str(branch))
        if r.product_uid == str(product)
        and r.product_variance == (str(variance) if variance else None)
    ]
    assert len(rows) == 1
    return rows[0].quantity


async def raw(sim: ShopboxSim, method: str, path: str, **kwargs: Any) -> httpx.Response:
    params = {"api-token": sim.token, **kwargs.pop("params", {})}
    async with httpx.AsyncClient() as http:
        return await http.request(method, f"{sim.api_url}{path}", params=params, **kwargs)


async def test_products_paginate_past_several_pages(
    shopbox_sim: ShopboxSim, shopbox_client: ShopboxClient
) -> None:
    uids = [p.uid async for p in shopbox_client.iter_products(per_page=37)]
    assert sorted(uids) == sorted(str(p["uid"]) for p in demo_shop()["products"])
    counts = await shopbox_sim.request_counts()
    assert counts["GET /api/v3/products"] == math.ceil(302 / 37)


async def test_page_links_and_per_page_minus_one(shopbox_sim: ShopboxSim) -> None:
    body = (await raw(shopbox_sim, "GET", "/products", params={"page": 3, "per-page": 50})).json()
    pagination = body["meta"]["pagination"]
    assert (pagination["current_page"], pagination["total_pages"], pagination["count"]) == (
        3,
        7,
        50,
    )
    assert "page=4" in pagination["links"]["next"]
    assert "page=2" in pagination["links"]["previous"]
    assert shopbox_sim.token not in str(pagination["links"])
    everything = (await raw(shopbox_sim, "GET", "/products", params={"per-page": -1})).json()
    assert len(everything["data"]) == 302
    assert everything["meta"]["pagination"]["links"] == {}


async def test_product_money_is_decimal_kroner_and_variants_have_own_ids(
    shopbox_client: ShopboxClient,
) -> None:
    fixture = variant_product()
    product = await shopbox_client.get_product(str(fixture["uid"]))
    assert product.selling_price == ore_to_kroner(fixture["selling_price"])
    assert product.inventory_on_variants
    assert [v.sku_code for v in product.product_variances] == [
        v["sku_code"] for v in fixture["product_variances"]
    ]
    assert (
        len({v.uid for v in product.product_variances} | {product.uid})
        == len(fixture["product_variances"]) + 1
    )


async def test_create_then_update_product(
    shopbox_sim: ShopboxSim, shopbox_client: ShopboxClient
) -> None:
    created = await shopbox_client.create_or_update_product(
        ProductUpsert(
            name="Kanelsnurrer 4 stk",
            sku_code="BRD-9001",
            selling_price=Decimal("39.95"),
            variants=[VariantUpsert(sku_code="BRD-9001-L", name="Stor", selling_price=Decimal(45))],
        )
    )
    stored = shopbox_sim.state.shop.products[int(created.uid)]
    assert (stored.selling_price, stored.sku_code) == (3995, "BRD-9001")
    assert [v.selling_price for v in stored.variances.values()] == [4500]
    updated = await shopbox_client.create_or_update_product(
        ProductUpsert(uid=created.uid, name="Kanelsnurrer 6 stk", description="Nybagt")
    )
    assert (updated.uid, updated.name, updated.sku_code) == (
        created.uid,
        "Kanelsnurrer 6 stk",
        "BRD-9001",
    )
    assert updated.selling_price == Decimal("39.95")
    assert updated.updated_at is not None
    changed = [p.uid async for p in shopbox_client.iter_products(updated_since=updated.updated_at)]
    assert created.uid in changed


async def test_sku_alias_is_accepted_on_write(shopbox_sim: ShopboxSim) -> None:
    body = {"uid": None, "name": "Boller", "sku": "BRD-7777", "selling_price": 2500.0}
    response = await raw(shopbox_sim, "POST", "/products/create-or-update", json=body)
    assert response.status_code == 200
    assert response.json()["sku_code"] == "BRD-7777"


async def test_422_names_the_bad_fields(
    shopbox_sim: ShopboxSim, shopbox_client: ShopboxClient
) -> None:
    with pytest.raises(ValidationFailed) as missing_name:
        await shopbox_client.create_or_update_product(ProductUpsert(sku_code="X-1"))
    assert set(missing_name.value.field_errors) == {"name", "selling_price"}
    kroner_by_mistake = await raw(
        shopbox_sim,
        "POST",
        "/products/create-or-update",
        json={"name": "Kaffe", "selling_price": 129.5},
    )
    assert kroner_by_mistake.status_code == 422
    assert "selling_price" in kroner_by_mistake.json()["errors"]
    bad_line = await raw(
        shopbox_sim,
        "POST",
        "/baskets",
        json={"cash_register": 11, "basket_items": [{"product": 42, "quantity": 1}]},
    )
    assert bad_line.status_code == 422
    assert bad_line.json()["errors"] == {"basket_items.0.product": ["Product 42 not found"]}


async def test_404_for_unknown_records(shopbox_client: ShopboxClient) -> None:
    with pytest.raises(NotFound, match="Product 4242 not found"):
        await shopbox_client.get_product("4242")
    with pytest.raises(NotFound, match="Basket 4242 not found"):
        await shopbox_client.get_basket("4242")


async def test_401_for_a_bad_token_without_leaking_it(shopbox_sim: ShopboxSim) -> None:
    wrong = "sbx-wrong-token-0123456789"
    async with ShopboxClient(shopbox_sim.api_url, wrong, retry=FAST_RETRY) as client:
        with pytest.raises(Unauthorized) as caught:
            await client.get_product("100001")
    assert caught.value.status == 401
    assert wrong not in str(caught.value)
    assert wrong not in repr(caught.value.args)


async def test_access_token_and_client_auth_style(shopbox_sim: ShopboxSim) -> None:
    login = await raw(
        shopbox_sim,
        "POST",
        "/authenticate/credentials",
        json={"username": "demo@shopbox.test", "password": "demo-password"},
    )
    token, client_uid = login.json()["accessToken"], login.json()["client"]
    async with httpx.AsyncClient() as http:
        ok = await http.get(
            f"{shopbox_sim.api_url}/branches", params={"accessToken": token, "client": client_uid}
        )
        other_client = await http.get(
            f"{shopbox_sim.api_url}/branches", params={"accessToken": token, "client": 1}
        )
    assert ok.status_code == 200
    assert other_client.status_code == 403


async def test_branches_and_cash_registers(shopbox_client: ShopboxClient) -> None:
    branches = await shopbox_client.branches()
    assert {b.name for b in branches} == {"København", "Aarhus"}
    aarhus = await shopbox_client.get_branch(str(AARHUS))
    register = await shopbox_client.get_cash_register(aarhus.cash_registers[0].uid)
    assert register.branch == str(AARHUS)


async def test_sale_lowers_stock_in_its_branch_only(
    shopbox_sim: ShopboxSim, shopbox_client: ShopboxClient
) -> None:
    before_kbh = await stock_of(shopbox_client, KBH, 100002, None)
    before_aarhus = await stock_of(shopbox_client, AARHUS, 100002, None)
    await shopbox_sim.sale("København", [{"sku": "BRD-0002", "quantity": 3}])
    assert await stock_of(shopbox_client, KBH, 100002, None) == before_kbh - 3
    assert await stock_of(shopbox_client, AARHUS, 100002, None) == before_aarhus


async def test_variant_sale_lowers_that_variant_only(
    shopbox_sim: ShopboxSim, shopbox_client: ShopboxClient
) -> None:
    product = variant_product()
    sold, sibling = product["product_variances"][:2]
    before = [
        await stock_of(shopbox_client, KBH, product["uid"], v["uid"]) for v in (sold, sibling)
    ]
    basket = await shopbox_sim.sale(KBH, [{"sku": sold["sku_code"], "quantity": 2}])
    after = [await stock_of(shopbox_client, KBH, product["uid"], v["uid"]) for v in (sold, sibling)]
    assert after == [before[0] - 2, before[1]]
    read = await shopbox_client.get_basket(str(basket["uid"]))
    assert read.basket_items[0].product_variance == str(sold["uid"])
    assert read.basket_items[0].sku_code == sold["sku_code"]


async def test_cancel_restores_stock_and_flags_the_basket(
    shopbox_sim: ShopboxSim, shopbox_client: ShopboxClient
) -> None:
    before = await stock_of(shopbox_client, AARHUS, 100002, None)
    basket = await shopbox_sim.sale("Aarhus", [{"product": 100002, "quantity": 4}])
    assert await stock_of(shopbox_client, AARHUS, 100002, None) == before - 4
    response = await raw(shopbox_sim, "PUT", f"/baskets/{basket['uid']}/cancel", json={})
    assert response.json()["canceled"] is True
    assert (await shopbox_client.get_basket(str(basket["uid"]))).canceled
    assert await stock_of(shopbox_client, AARHUS, 100002, None) == before
    again = await raw(shopbox_sim, "PUT", f"/baskets/{basket['uid']}/cancel", json={})
    assert again.status_code == 422


async def test_refund_is_a_new_basket_with_negative_quantities(
    shopbox_sim: ShopboxSim, shopbox_client: ShopboxClient
) -> None:
    before = await stock_of(shopbox_client, KBH, 100003, None)
    sale = await shopbox_sim.sale(KBH, [{"product": 100003, "quantity": 3}])
    refund = await shopbox_sim.refund(sale["uid"], [{"product": 100003, "quantity": 2}])
    read = await shopbox_client.get_basket(str(refund["uid"]))
    assert read.uid != str(sale["uid"])
    assert read.is_refund
    assert read.basket_items[0].quantity == -2
    assert read.basket_items[0].selling_price > 0
    assert read.total is not None and read.total < 0
    assert await stock_of(shopbox_client, KBH, 100003, None) == before - 1


async def test_baskets_newest_first_with_since_filter(
    shopbox_sim: ShopboxSim, shopbox_client: ShopboxClient
) -> None:
    start = 1_800_000_000
    for offset in range(7):
        await shopbox_sim.sale(
            KBH, [{"sku": "BRD-0002", "quantity": 1}], creation_time=start + offset * 60
        )
    everything = [b async for b in shopbox_client.iter_baskets(per_page=2)]
    assert [b.creation_time for b in everything] == [start + o * 60 for o in range(6, -1, -1)]
    recent = [b async for b in shopbox_client.iter_baskets(since=start + 240, per_page=2)]
    assert [b.creation_time for b in recent] == [start + 360, start + 300, start + 240]


async def test_post_basket_with_the_plugin_body(
    shopbox_sim: ShopboxSim, shopbox_client: ShopboxClient
) -> None:
    before = await stock_of(shopbox_client, KBH, 100005, None)
    body = {
        "order_hash": "11-order-77",
        "external_id": "order-77",
        "creation_time": 1_800_000_000,
        "cash_register": 11,
        "type": 2,
        "discount_margin": 0,
        "basket_items": [
            {
                "product": "100005",
                "product_variance": None,
                "quantity": 2,
                "selling_price": 2000,
                "discount": 10.0,
                "tax": None,
                "name": None,
            },
            {"product": None, "quantity": 1, "selling_price": 4900, "name": "Shipping"},
        ],
    }
    response = await raw(shopbox_sim, "POST", "/baskets", json=body)
    assert response.status_code == 201
    created = response.json()
    assert created["uid"] and created["branch"] == KBH
    basket = await shopbox_client.get_basket(str(created["uid"]))
    assert [i.total for i in basket.basket_items] == [Decimal("36.00"), Decimal("49.00")]
    assert basket.payments[0].amount == Decimal("85.00")
    assert await stock_of(shopbox_client, KBH, 100005, None) == before - 2


async def test_set_stock_is_absolute(
    shopbox_sim: ShopboxSim, shopbox_client: ShopboxClient
) -> None:
    product = variant_product()
    variance = product["product_variances"][0]["uid"]
    for _ in range(2):
        await shopbox_client.set_stock(
            str(AARHUS), str(product["uid"]), 17, product_variance=str(variance)
        )
    assert await stock_of(shopbox_client, AARHUS, product["uid"], variance) == 17
    with pytest.raises(ValidationFailed) as wrong_variant:
        await shopbox_client.set_stock(str(AARHUS), "100001", 5, product_variance=str(variance))
    assert "product_variance" in wrong_variant.value.field_errors


async def test_control_sale_refuses_an_ambiguous_sku(shopbox_sim: ShopboxSim) -> None:
    duplicate = next(p for p in demo_shop()["products"] if p.get("bad_sku") == "duplicate")
    response = await shopbox_sim.control.post(
        "/_control/sale", json={"branch": KBH, "lines": [{"sku": duplicate["sku_code"]}]}
    )
    assert response.status_code == 422
    assert "matches 2 items" in response.text


async def test_control_sales_rings_up_a_batch_or_nothing(
    shopbox_sim: ShopboxSim, shopbox_client: ShopboxClient
) -> None:
    before = await stock_of(shopbox_client, KBH, 100002, None)
    baskets_before = (await shopbox_sim.summary())["baskets"]
    duplicate = next(p for p in demo_shop()["products"] if p.get("bad_sku") == "duplicate")
    good = {"branch": KBH, "lines": [{"sku": "BRD-0002", "quantity": 2}]}
    refused = await shopbox_sim.control.post(
        "/_control/sales",
        json={"sales": [good, {"branch": KBH, "lines": [{"sku": duplicate["sku_code"]}]}]},
    )
    assert refused.status_code == 422
    assert "sales.1.lines.0.sku" in refused.json()["errors"]
    assert (await shopbox_sim.summary())["baskets"] == baskets_before
    answer = await shopbox_sim.control.post("/_control/sales", json={"sales": [good, good]})
    assert answer.status_code == 201
    uids = [b["uid"] for b in answer.json()["baskets"]]
    assert len(set(uids)) == 2
    for uid in uids:
        assert (await shopbox_client.get_basket(str(uid))).basket_items[0].sku_code == "BRD-0002"
    assert await stock_of(shopbox_client, KBH, 100002, None) == before - 4


async def test_backoffice_edit_by_sku_bumps_updated_at(
    shopbox_sim: ShopboxSim, shopbox_client: ShopboxClient
) -> None:
    edited = await shopbox_sim.edit_product(
        sku_code="BRD-0003", name="Rugbrød surdej", selling_price=4295
    )
    assert edited["uid"] == 100003
    product = await shopbox_client.get_product("100003")
    assert (product.name, product.selling_price) == ("Rugbrød surdej", Decimal("42.95"))


async def test_reset_and_seed_restore_the_demo_shop(shopbox_sim: ShopboxSim) -> None:
    await shopbox_sim.sale(KBH, [{"sku": "BRD-0002"}])
    await shopbox_sim.edit_product(name="Ny vare", sku_code="NY-1", selling_price=1000)
    await shopbox_sim.control.post("/_control/reset")
    summary = await shopbox_sim.summary()
    assert (summary["products"], summary["baskets"]) == (302, 0)
    await shopbox_sim.control.post("/_control/seed", json={"branches": [], "products": []})
    assert (await shopbox_sim.summary())["products"] == 0
    await shopbox_sim.control.post("/_control/seed", json={"fixture": "demo_shop"})
    summary = await shopbox_sim.summary()
    assert (summary["products"], summary["variances"]) == (302, 136)
    assert summary["branches"] == {"1": "København", "2": "Aarhus"}

"""The simulator's payloads carry every field name documented for Shopbox (documented_shapes)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.shopbox_sim import ShopboxSim, demo_shop

pytestmark = pytest.mark.simulators

SHAPES: dict[str, Any] = json.loads(
    (Path(__file__).parent / "documented_shapes" / "shopbox.json").read_text(encoding="utf-8")
)


def missing(payload: dict[str, Any], names: list[str]) -> list[str]:
    return [name for name in names if name not in payload]


async def get(sim: ShopboxSim, path: str, **params: Any) -> Any:
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{sim.api_url}{path}", params={"api-token": sim.token, **params})
    return response.json()


async def test_list_envelope_has_documented_keys(shopbox_sim: ShopboxSim) -> None:
    shape = SHAPES["list_envelope"]
    body = await get(shopbox_sim, "/products", page=2, **{"per-page": 10})
    assert missing(body, shape["fields"]) == []
    assert missing(body["meta"], shape["meta"]) == []
    assert missing(body["meta"]["pagination"], shape["pagination"]) == []
    assert missing(body["meta"]["pagination"]["links"], shape["links_on_a_middle_page"]) == []


async def test_product_and_variance_have_documented_keys(shopbox_sim: ShopboxSim) -> None:
    with_variants = next(p for p in demo_shop()["products"] if p["product_variances"])
    product = await get(shopbox_sim, f"/products/{with_variants['uid']}")
    assert missing(product, SHAPES["product"]["fields"]) == []
    variance = product["product_variances"][0]
    assert missing(variance, SHAPES["product_variance"]["fields"]) == []
    assert missing(variance["variance_values"][0], SHAPES["variance_value"]["fields"]) == []


async def test_inventory_row_branch_and_register_have_documented_keys(
    shopbox_sim: ShopboxSim,
) -> None:
    rows = await get(shopbox_sim, "/product-inventories", branch=1, num_per_page=5)
    assert missing(rows["data"][0], SHAPES["inventory_row"]["fields"]) == []
    branch = await get(shopbox_sim, "/branches/1")
    assert missing(branch, SHAPES["branch"]["fields"]) == []
    register = await get(shopbox_sim, f"/cash-registers/{branch['cash_registers'][0]['uid']}")
    assert missing(register, SHAPES["cash_register"]["fields"]) == []


async def test_basket_and_item_have_documented_keys(shopbox_sim: ShopboxSim) -> None:
    sold = await shopbox_sim.sale("København", [{"sku": "BRD-0002", "quantity": 1}])
    basket = await get(shopbox_sim, f"/baskets/{sold['uid']}")
    assert missing(basket, SHAPES["basket"]["fields"]) == []
    assert missing(basket["basket_items"][0], SHAPES["basket_item"]["fields"]) == []
    listed = await get(shopbox_sim, "/baskets")
    assert missing(listed["data"][0], SHAPES["basket"]["fields"]) == []


async def test_error_body_has_documented_keys(shopbox_sim: ShopboxSim) -> None:
    body = await get(shopbox_sim, "/products/1")
    assert missing(body, SHAPES["error"]["fields"]) == []
    assert missing(body["error"], SHAPES["error"]["error"]) == []

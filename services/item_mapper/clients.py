"""The few item calls the shared clients lack, added here so the shared clients stay small.

Rackbeat variations (apis.md 1.5, KG paths): read one, create one, add an option to a type.
Shopbox: products by exact SKU (the simulator's `sku_code` filter; UNCONFIRMED on the real API,
where a full scan would be the fallback).
"""

from __future__ import annotations

from services.clients.rackbeat import RackbeatClient, Variation, VariationOption
from services.clients.shopbox import Product, ShopboxClient


class ItemsRackbeatClient(RackbeatClient):
    async def get_variation(self, variation_id: int) -> Variation:
        return await self._get_one(f"variations/{variation_id}", "variation", Variation)

    async def create_variation(self, name: str, type_name: str, options: list[str]) -> Variation:
        body = {
            "name": name,
            "types": [{"name": type_name, "options": [{"name": o} for o in options]}],
        }
        # Not idempotent: a retried create after a 5xx could make two. The caller looks the
        # variation up by its (deterministic) name before creating, so a re-run reuses it.
        response = await self._request("POST", "variations", json=body, idempotent=False)
        return self._one(response, "variation", Variation, "POST /variations")

    async def add_variation_option(
        self, variation_id: int, type_id: int, name: str
    ) -> VariationOption:
        path = f"variations/{variation_id}/types/{type_id}/options"
        response = await self._request("POST", path, json={"name": name}, idempotent=False)
        return self._one(response, "variation_option", VariationOption, f"POST /{path}")


class ItemsShopboxClient(ShopboxClient):
    async def find_by_sku(self, sku: str) -> list[Product]:
        """Products whose own SKU is exactly `sku`."""
        body = await self._request("GET", "products", params={"sku_code": sku, "per-page": 50})
        rows = [Product.model_validate(row) for row in body.get("data", [])]
        return [product for product in rows if product.sku_code == sku]

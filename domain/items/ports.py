"""What the item rules need from the two APIs: the calls they make, as structural types.

The clients in `services.clients` satisfy these as they are; a unit test can pass an in-memory
fake instead (tests/unit/fakes.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from schemas.items import Binding
from services.clients import rackbeat_models as rb
from services.clients import shopbox as sb


class RackbeatItems(Protocol):
    def iter_products(self, *, page_size: int = ...) -> AsyncIterator[rb.Product]: ...

    async def find_product(self, number: str) -> rb.Product | None: ...

    async def create_product(
        self, product: rb.NewProduct, *, suppress_webhooks: bool = ...
    ) -> rb.Product: ...

    async def update_product(
        self, number: str, changes: rb.ProductChanges, *, suppress_webhooks: bool = ...
    ) -> rb.Product: ...

    async def list_variations(self) -> list[rb.Variation]: ...

    async def get_variation(self, variation_id: int) -> rb.Variation: ...

    async def create_variation(
        self, name: str, type_name: str, options: list[str]
    ) -> rb.Variation: ...

    async def add_variation_option(
        self, variation_id: int, type_id: int, name: str
    ) -> rb.VariationOption: ...


class RackbeatStock(Protocol):
    async def item_stock(self, number: str) -> list[rb.ItemLocationStock]: ...

    async def variant_stock(
        self, number: str, *, location: int | None = ...
    ) -> list[rb.VariantStock]: ...

    async def create_inventory_adjustment(
        self, adjustment: rb.NewInventoryAdjustment, *, suppress_webhooks: bool = ...
    ) -> rb.InventoryAdjustment: ...


class ShopboxItems(Protocol):
    async def get_product(self, uid: str) -> sb.Product: ...

    async def create_or_update_product(self, product: sb.ProductUpsert) -> sb.Product: ...

    async def find_by_sku(self, sku: str) -> list[sb.Product]: ...


class ShopboxStock(Protocol):
    async def branches(self) -> list[sb.Branch]: ...

    def iter_stock(self, branch: str, *, per_page: int = ...) -> AsyncIterator[sb.InventoryRow]: ...


class BindingLookup(Protocol):
    def by_rackbeat(self, item_number: str, option_id: str | None = ...) -> Binding | None: ...

"""Which binding a Shopbox sale line maps by: the one rule order-writer, stock-publisher and
the drift report share.

The line's own Shopbox ids (product, variant) come first: they survive a SKU edit. The SKU is
the fallback, for lines whose product is not bound by id (e.g. bound before a re-create). A
binding with a problem (empty, duplicate, over-long SKU) is never returned: never matched by
guess.
"""

from __future__ import annotations

from typing import Protocol

from schemas.items import Binding


class BindingTable(Protocol):
    def by_shopbox(self, product_id: str, variant_id: str | None = ...) -> Binding | None: ...

    def by_sku(self, sku: str) -> Binding | None: ...


def binding_for(
    table: BindingTable, product_id: str | None, variant_id: str | None, sku: str | None
) -> Binding | None:
    if product_id:
        found = table.by_shopbox(product_id, variant_id)
        if found:
            return found
    return table.by_sku(sku) if sku else None

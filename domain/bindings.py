"""Which binding a Shopbox sale line maps by: the one rule order-writer, stock-publisher and
the drift report share.

The line's own Shopbox ids (product, variant) come first: they survive a SKU edit. The SKU is
the fallback, for lines whose product is not bound by id (e.g. bound before a re-create). A
binding with a problem (empty, duplicate, over-long SKU) is never returned: never matched by
guess.

A binding re-published for the same Rackbeat item keeps the time its stock was copied
(`stock_copied_at`): only the create that copied it knows it, and a sale re-driven hours later
still needs it.
"""

from __future__ import annotations

from datetime import datetime
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


def keeping_copy_time(previous: Binding | None, binding: Binding) -> Binding:
    """`binding` with the copy time of the binding it replaces, when both name the same item."""
    if binding.stock_copied_at is not None or previous is None:
        return binding
    if previous.stock_copied_at is None:
        return binding
    if previous.rackbeat_item_number != binding.rackbeat_item_number:
        return binding  # another item: its figure was not copied then
    return binding.model_copy(update={"stock_copied_at": previous.stock_copied_at})


def copied_after(binding: Binding | None, sold_at: datetime) -> bool:
    """The binding's item got its stock copied from Shopbox after a sale made at `sold_at`: the
    copied figure already counts that sale (order-writer gives it back, pending sales waits)."""
    copied = binding.stock_copied_at if binding else None
    return copied is not None and sold_at < copied

"""After a poll pass: products to apply again, and bindings whose SKU left the master.

A product is applied when its own snapshot changes. Two things change without that:
- a duplicate SKU is resolved by editing the OTHER product: the remaining owner still carries
  its "duplicate" problem. Products held back by a duplicate are remembered, and once none of
  their SKUs is duplicated any more they are applied again.
- a SKU disappears (its product deleted, or its SKU changed): the binding would keep matching.
  After a FULL pass of the master (so the table is known complete), bindings whose SKU no
  sellable thing carries any more are listed for a tombstone.
Plain and Kafka-free.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from domain.items.rules import ShopboxRef, problem_binding, sellable_skus
from schemas.items import ProductSnapshot


def product_skus(snapshot: ProductSnapshot) -> set[str]:
    """Every SKU of a product that the duplicate rule looks at (its own and its sellables')."""
    skus = {sku for sku, _ in sellable_skus(snapshot) if sku}
    if snapshot.sku:
        skus.add(snapshot.sku)
    return skus


class DuplicateWatch:
    """Products held back by a duplicate SKU, until that SKU has one owner again."""

    def __init__(self) -> None:
        self.held: dict[str, set[str]] = {}
        """product id -> the duplicated SKUs it was applied with"""

    def applied(
        self, snapshot: ProductSnapshot, duplicates: Mapping[str, list[ShopboxRef]]
    ) -> None:
        involved = product_skus(snapshot) & duplicates.keys()
        if involved:
            self.held[snapshot.product_id] = involved
        else:
            self.held.pop(snapshot.product_id, None)

    def resolved(
        self, table: Mapping[str, ProductSnapshot], duplicates: Mapping[str, list[ShopboxRef]]
    ) -> list[ProductSnapshot]:
        """Held products none of whose SKUs is duplicated now; they are no longer held."""
        ready = []
        for product_id, skus in list(self.held.items()):
            if skus & duplicates.keys():
                continue
            del self.held[product_id]
            snapshot = table.get(product_id)
            if snapshot is not None and not snapshot.deleted:
                ready.append(snapshot)
        return ready


def live_binding_keys(table: Iterable[ProductSnapshot]) -> set[str]:
    """The binding keys the master's current products produce (empty SKUs keyed by ids)."""
    keys = set()
    for snapshot in table:
        if snapshot.deleted:
            continue
        for sku, ref in sellable_skus(snapshot):
            keys.add(sku if sku and sku.strip() else problem_binding(sku, "", ref).sku)
    return keys


def gone_binding_keys(bound: Iterable[str], table: Iterable[ProductSnapshot]) -> list[str]:
    """Bound keys that no product of a complete master table carries any more."""
    live = live_binding_keys(table)
    return sorted(key for key in bound if key not in live)

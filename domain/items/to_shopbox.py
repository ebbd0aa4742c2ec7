"""Rackbeat master: apply one Rackbeat product snapshot to Shopbox (SKU, name, price, description).

The Shopbox product is found through the binding, else by exact SKU; only differing fields are
written (an edit that changes nothing writes nothing). Rackbeat never creates variants in
Shopbox: an item with a variation and no Shopbox product yet is skipped with that reason. On an
existing Shopbox product with variants, price and description also go to the existing variants
(Rackbeat holds one price and one description per item).
"""

from __future__ import annotations

from decimal import Decimal

from domain.items.ports import BindingLookup, ShopboxItems
from domain.items.rules import PriceRules, problem_binding, with_sku_fix
from domain.items.to_rackbeat import Outcome
from schemas.items import Binding, ProductSnapshot
from services.clients import shopbox as sb

VARIANTS_SKIPPED = (
    "the Rackbeat item has variations, and Rackbeat cannot create variants in Shopbox; "
    "to sync products with variants, make Shopbox the item master (SYNC_ITEM_MASTER=shopbox)"
)

NOT_FOR_SALE = (
    "it is order-writer's rounding item (ORDER_WRITER_ROUNDING_ITEM_NUMBER), not goods: "
    "never created in Shopbox; nothing to fix"
)


class ShopboxWriter:
    def __init__(
        self,
        client: ShopboxItems,
        prices: PriceRules,
        bindings: BindingLookup | None,
        *,
        not_for_sale: frozenset[str] = frozenset(),
    ) -> None:
        self.client = client
        # Rackbeat items that are bookkeeping, not goods (the øreafrunding item of
        # docs/decisions/0014): never created in Shopbox.
        self.not_for_sale = not_for_sale
        self.prices = prices
        self.bindings = bindings

    async def apply(self, snapshot: ProductSnapshot) -> Outcome:
        number = snapshot.product_id
        if number in self.not_for_sale:
            return Outcome(number, number, "skipped", reason=NOT_FOR_SALE)
        problem = with_sku_fix(snapshot.sku, "Rackbeat")
        if problem:
            return _skipped(number, f"the item number is the Shopbox SKU and {problem}")
        found = await self._find(number)
        if isinstance(found, str):
            return _skipped(number, found)
        price = self.prices.to_shopbox(snapshot.price) if snapshot.price is not None else None
        if found is None:
            if snapshot.variants:
                return _skipped(number, VARIANTS_SKIPPED)
            created = await self.client.create_or_update_product(
                sb.ProductUpsert(
                    name=snapshot.name,
                    sku_code=number,
                    description=snapshot.description or "",
                    selling_price=price or Decimal(0),
                )
            )
            return _bound(number, created.uid, "created", ["new product"])
        upsert, changes = shopbox_changes(found, snapshot, price)
        if upsert is None:
            return _bound(number, found.uid, "unchanged", [])
        await self.client.create_or_update_product(upsert, current=found)
        return _bound(number, found.uid, "updated", changes)

    async def _find(self, number: str) -> sb.Product | str | None:
        binding = self.bindings.by_rackbeat(number) if self.bindings else None
        if binding and binding.shopbox_product_id:
            return await self.client.get_product(binding.shopbox_product_id)
        hits = await self.client.find_by_sku(number)
        if len(hits) > 1:
            uids = ", ".join(p.uid for p in hits)
            return (
                f"SKU '{number}' is used by {len(hits)} Shopbox products ({uids}): "
                "give each of them its own SKU in Shopbox"
            )
        return hits[0] if hits else None


def shopbox_changes(
    current: sb.Product, snapshot: ProductSnapshot, price: Decimal | None
) -> tuple[sb.ProductUpsert | None, list[str]]:
    """The upsert carrying only what differs (product and existing variants), or None."""
    fields: dict[str, object] = {}
    if current.name != snapshot.name:
        fields["name"] = snapshot.name
    if (current.description or None) != snapshot.description:
        fields["description"] = snapshot.description or ""
    if price is not None and current.selling_price != price:
        fields["selling_price"] = price
    variants = [
        sb.VariantUpsert(
            uid=variance.uid,
            selling_price=price if variance.selling_price != price else None,
            description=snapshot.description or ""
            if (variance.description or None) != snapshot.description
            else None,
        )
        for variance in current.product_variances
        if (price is not None and variance.selling_price != price)
        or (variance.description or None) != snapshot.description
    ]
    changes = sorted(fields) + [f"variant {v.uid}" for v in variants]
    if not changes:
        return None, []
    return sb.ProductUpsert(uid=current.uid, variants=variants or None, **fields), changes


def _bound(number: str, uid: str, action: str, changes: list[str]) -> Outcome:
    binding = Binding(sku=number, shopbox_product_id=uid, rackbeat_item_number=number)
    return Outcome(number, number, action, changes, bindings=[binding])  # type: ignore[arg-type]


def _skipped(number: str, reason: str) -> Outcome:
    binding = problem_binding(number, f"not synced: {reason}")
    binding = binding.model_copy(update={"rackbeat_item_number": number or None})
    return Outcome(number, number, "skipped", reason=reason, bindings=[binding])

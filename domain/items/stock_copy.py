"""Initial stock: Shopbox stock per branch copied to Rackbeat per mapped location, once.

Shopbox branches map to Rackbeat locations (SYNC_BRANCH_LOCATIONS); two branches on one location
are summed. The copy is compare-before-write: current Rackbeat stock is read (unless the item was
just created, when it is known to be zero) and only differing figures are written, as new levels
(negative ones too: Rackbeat keeps them). Writes suppress webhooks, so stock-publisher does not
echo them back.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from domain.items.ports import RackbeatStock
from domain.items.rules import ShopboxRef
from domain.items.to_rackbeat import Outcome
from schemas.items import ProductSnapshot, variant_key
from services.clients import rackbeat_models as rb
from services.clients.shopbox import InventoryRow

ZERO = Decimal(0)
StockByRef = dict[ShopboxRef, dict[int, Decimal]]


@dataclass(frozen=True)
class StockTarget:
    sku: str
    item_number: str
    location: int
    quantity: Decimal
    picks: tuple[rb.VariationPick, ...] = ()
    """A variant's options, one per variation type; empty for a plain item."""

    @property
    def variant(self) -> str | None:
        return variant_key(pick.option_id for pick in self.picks)


@dataclass(frozen=True)
class StockWrite:
    target: StockTarget
    before: Decimal


def stock_by_location(
    rows_by_branch: Mapping[str, Iterable[InventoryRow]], branch_locations: Mapping[str, int]
) -> tuple[StockByRef, list[str]]:
    """Shopbox stock summed per (product, variant) and Rackbeat location; unmapped branches."""
    stock: StockByRef = defaultdict(lambda: defaultdict(lambda: ZERO))
    unmapped = []
    for branch, rows in rows_by_branch.items():
        location = branch_locations.get(branch)
        if location is None:
            unmapped.append(branch)
            continue
        for row in rows:
            stock[(row.uid, row.product_variance)][location] += row.quantity
    return stock, unmapped


def stock_targets(
    snapshot: ProductSnapshot,
    outcome: Outcome,
    stock: StockByRef,
    locations: Iterable[int],
) -> tuple[list[StockTarget], list[str]]:
    """What each mapped location should hold for a synced product; and what cannot be copied."""
    if outcome.action == "skipped" or outcome.item_number is None:
        return [], []
    number, targets, problems = outcome.item_number, [], []
    bound = {b.shopbox_variant_id: b for b in outcome.bindings if b.option_ids()}
    product_level = stock.get((snapshot.product_id, None), {})
    if snapshot.variants and any(q != ZERO for q in product_level.values()):
        problems.append(
            f"{number}: stock kept on the product, not its variants; Rackbeat needs it per variant"
        )
    sellable = (
        [(v.sku or "", v.variant_id) for v in snapshot.variants]
        if snapshot.variants
        else [(snapshot.sku or "", None)]
    )
    for sku, variant in sellable:
        picks: tuple[rb.VariationPick, ...] = ()
        if variant is not None:
            binding = bound.get(variant)
            if binding is None:
                continue  # reported through its binding problem
            variation = int(binding.rackbeat_variation_id or 0)
            picks = tuple(
                rb.VariationPick(variation_id=variation, option_id=int(option))
                for option in binding.option_ids()
            )
        levels = stock.get((snapshot.product_id, variant), {})
        for location in locations:
            targets.append(StockTarget(sku, number, location, levels.get(location, ZERO), picks))
    return targets, problems


async def current_stock(
    client: RackbeatStock, number: str, locations: Iterable[int], has_variants: bool
) -> dict[tuple[int, str | None], Decimal]:
    """Rackbeat stock per (location, variant key) for one item."""
    if not has_variants:
        rows = await client.item_stock(number)
        return {(row.location.number, None): row.stock_quantity for row in rows}
    return {
        (location, variant_key(option.option_id for option in row.options)): row.stock_quantity
        for location in locations
        for row in await client.variant_stock(number, location=location)
    }


async def copy_stock(
    client: RackbeatStock,
    targets: list[StockTarget],
    *,
    fresh: bool,
    dry_run: bool,
) -> list[StockWrite]:
    """Write the targets that differ from Rackbeat; returns the writes (made or planned)."""
    if not targets:
        return []
    if fresh:
        current: dict[tuple[int, str | None], Decimal] = {}
    else:
        locations = sorted({t.location for t in targets})
        has_variants = any(t.picks for t in targets)
        current = await current_stock(client, targets[0].item_number, locations, has_variants)
    writes = []
    for target in targets:
        before = current.get((target.location, target.variant), ZERO)
        if before == target.quantity:
            continue
        writes.append(StockWrite(target, before))
        if not dry_run:
            await client.create_inventory_adjustment(_adjustment(target), suppress_webhooks=True)
    return writes


def negative_figures(writes: Iterable[StockWrite]) -> list[StockTarget]:
    """Negative Shopbox figures copied as they are: Rackbeat keeps them, while stock-publisher
    writes 0 back to Shopbox (it never writes negative stock), so the operator must see them."""
    return [write.target for write in writes if write.target.quantity < 0]


def _adjustment(target: StockTarget) -> rb.NewInventoryAdjustment:
    return rb.NewInventoryAdjustment(
        item_number=target.item_number,
        location_number=target.location,
        quantity=target.quantity,
        reason="Initial sync from Shopbox",
        description=f"Shopbox stock for SKU {target.sku}",
        variations=list(target.picks),
    )

"""Sale lines already counted in a copied stock figure: what order-writer gives back.

When item-mapper creates a Rackbeat item (Shopbox as item master), it copies the product's
current Shopbox stock into it, and Shopbox's figure already reflects every sale made before that
read. A sale that waited for the binding (a dead letter re-driven, a retry) then reaches Rackbeat
after the copy, and its order takes the units off a second time. So for each line whose binding
says the stock was copied after the basket (`stock_copied_at`), the order is followed by an
absolute level: the item's stock there plus the line's quantity. A refund line has a negative
quantity: the copy holds the units the till added back, which Rackbeat never adds (restocking is
the warehouse's), so they are taken off again.

Plain and Kafka-free: the writer reads the current levels and writes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from domain.bindings import copied_after
from domain.sales.orders import BindingLookup, OrderRules, location_for, rackbeat_item
from schemas.sales import Sale, SaleLine

ZERO = Decimal(0)


@dataclass(frozen=True)
class Counted:
    """Units of one item (variant) at one location that the copied figure already counts."""

    item_number: str
    location: int
    variation_id: int | None
    option_ids: tuple[int, ...]
    quantity: Decimal


def counted_in_copy(sale: Sale, lookup: BindingLookup, rules: OrderRules) -> list[Counted]:
    """The sale's lines whose item's stock was copied after the basket, summed per item,
    variant and location (two lines of one item make one level)."""
    location = location_for(sale.branch_id, rules)
    if location is None:
        return []  # no branch mapping: item-mapper copies no stock either
    totals: dict[tuple[str, int | None, tuple[int, ...]], Decimal] = {}
    for line in sale.lines:
        if not _copied_after(line, sale, lookup):
            continue
        item, picks = rackbeat_item(line, lookup, rules)
        variation = picks[0].variation_id if picks else None
        key = (item, variation, tuple(sorted(p.option_id for p in picks)))
        totals[key] = totals.get(key, ZERO) + line.quantity
    return [
        Counted(item, location, variation, options, quantity)
        for (item, variation, options), quantity in totals.items()
        if quantity != ZERO
    ]


def _copied_after(line: SaleLine, sale: Sale, lookup: BindingLookup) -> bool:
    if line.product_id is None:
        return False  # a free-text line: no item, no copy
    return copied_after(lookup(line), sale.created_at)

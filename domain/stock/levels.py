"""What quantity goes to Shopbox for one observation, and Rackbeat's rows as stock levels.
Pure, no I/O."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from schemas.items import variant_key
from schemas.stock import StockLevel
from services.clients.rackbeat_models import ItemLocationStock, VariantStock

QuantityMode = Literal["available", "in_stock"]
ZERO = Decimal(0)


@dataclass(frozen=True)
class Target:
    quantity: Decimal
    clamped_from: Decimal | None = None
    """The negative figure that was raised to zero, if any (it is logged as a warning)."""


def target_quantity(
    level: StockLevel, *, mode: QuantityMode, buffer: Decimal, pending_sales: Decimal
) -> Target:
    """Rackbeat's figure, minus the safety buffer, minus Shopbox sales Rackbeat has not absorbed.

    `pending_sales` is negative for a cancelled sale Rackbeat still holds (refunds are never
    pending: domain/stock/pending.py). A result below zero is clamped: Shopbox never gets
    negative stock from us.
    """
    base = level.available_quantity if mode == "available" else level.stock_quantity
    raw = base - buffer - pending_sales
    if raw < 0:
        return Target(ZERO, clamped_from=raw)
    return Target(raw)


def location_levels(item: str, rows: Iterable[ItemLocationStock]) -> list[StockLevel]:
    """`GET /items/{n}/locations` rows of an item without variations: one level per location."""
    return [
        StockLevel(
            item_number=item,
            location_number=row.location.number,
            stock_quantity=row.stock_quantity,
            in_order_quantity=row.in_order_quantity,
            available_quantity=row.available_quantity,
        )
        for row in rows
    ]


def option_levels(item: str, location: int, rows: Iterable[VariantStock]) -> list[StockLevel]:
    """Variation-matrix rows of one location: one level per variant, named by its options
    (`variant_key`: one option, or one per type of a size x colour variation). A row with no
    option names no variant and is left out."""
    return [
        StockLevel(
            item_number=item,
            location_number=location,
            variation_option_id=variant_key(option.option_id for option in row.options),
            stock_quantity=row.stock_quantity,
            in_order_quantity=row.in_order_quantity,
            available_quantity=row.available_quantity,
        )
        for row in rows
        if row.options
    ]

"""What quantity goes to Shopbox for one observation: pure arithmetic, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from schemas.stock import StockLevel

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

    `pending_sales` is negative for refunds Rackbeat has not absorbed yet (stock came back in
    Shopbox first). A result below zero is clamped: Shopbox never gets negative stock from us.
    """
    base = level.available_quantity if mode == "available" else level.stock_quantity
    raw = base - buffer - pending_sales
    if raw < 0:
        return Target(ZERO, clamped_from=raw)
    return Target(raw)

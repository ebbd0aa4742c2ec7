"""Stock events: `rackbeat.stock.v1` (compacted, keyed item|location) and `stock.pushed.v1`."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import Field

from schemas.envelope import Event, Model


class StockLevel(Model):
    item_number: str
    location_number: int
    variation_option_id: str | None = Field(
        None,
        description="the variant's option, or with several variation types (size x colour) its "
        "options as `schemas.items.variant_key` joins them ('12+34'); None for the item itself",
    )
    stock_quantity: Decimal
    in_order_quantity: Decimal
    available_quantity: Decimal = Field(description="stock minus in order, as Rackbeat reports")


class StockObserved(Event):
    """An absolute quantity read from Rackbeat at `observed_at` (never a delta)."""

    type: Literal["StockObserved"] = "StockObserved"
    payload: StockLevel


def stock_key(item_number: str, location_number: int, option_id: str | None = None) -> str:
    return f"{item_number}|{location_number}" + (f"|{option_id}" if option_id else "")


class StockPushedPayload(Model):
    sku: str
    branch_id: str
    product_id: str
    variant_id: str | None = None
    quantity: Decimal
    previous_quantity: Decimal | None = None
    cause: str = Field(description="event id of the observation that caused the write")
    observed_at: datetime
    pushed_at: datetime


class StockPushed(Event):
    type: Literal["StockPushed"] = "StockPushed"
    payload: StockPushedPayload

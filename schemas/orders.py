"""`orders.synced.v1` (compacted, keyed by basket id): the ledger of what order-writer did."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import Field

from schemas.envelope import Event, Model

OrderOutcome = Literal["created", "found_existing", "cancelled", "refunded"]


class StockReturn(Model):
    """An absolute stock level order-writer sets after the order, to give back what the order
    takes off a second time: the item's stock was copied from Shopbox after the sale, so the
    copied figure counts the sale already."""

    item_number: str
    location_number: int
    variation_id: int | None = None
    option_ids: list[int] = Field(default_factory=list, description="the variant's options")
    quantity: Decimal = Field(description="the units given back: the lines' quantity")
    level: Decimal = Field(description="the new stock level: what Rackbeat held plus `quantity`")


class OrderSyncedPayload(Model):
    basket_id: str
    rackbeat_order_number: str | None
    outcome: OrderOutcome
    booked: bool = Field(description="True when the order reserves stock in Rackbeat")
    location_number: int | None = None
    synced_at: datetime
    reference: str | None = Field(None, description="the order's their_reference in Rackbeat")
    stock_returns: list[StockReturn] = Field(
        default_factory=list,
        description="levels to set because the sale is already in a copied figure; recorded "
        "before they are written, so a redelivery writes the same levels, never new ones",
    )
    stock_returned: bool = Field(False, description="True once `stock_returns` are written")


class OrderSynced(Event):
    type: Literal["OrderSynced"] = "OrderSynced"
    payload: OrderSyncedPayload

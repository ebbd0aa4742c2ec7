"""`orders.synced.v1` (compacted, keyed by basket id): the ledger of what order-writer did."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from schemas.envelope import Event, Model

OrderOutcome = Literal["created", "found_existing", "cancelled", "refunded"]


class OrderSyncedPayload(Model):
    basket_id: str
    rackbeat_order_number: str | None
    outcome: OrderOutcome
    booked: bool = Field(description="True when the order reserves stock in Rackbeat")
    location_number: int | None = None
    synced_at: datetime
    reference: str | None = Field(None, description="the order's their_reference in Rackbeat")


class OrderSynced(Event):
    type: Literal["OrderSynced"] = "OrderSynced"
    payload: OrderSyncedPayload

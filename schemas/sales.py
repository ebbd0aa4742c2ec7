"""Events on `shopbox.sales.v1`, keyed by basket id: what happened at the Shopbox till."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, TypeAdapter

from schemas.envelope import Event, Model, deterministic_id, utcnow


class SaleLine(Model):
    product_id: str | None = Field(description="Shopbox product uid; None for free-text lines")
    variant_id: str | None = Field(None, description="Shopbox product_variance uid")
    sku: str | None = None
    name: str
    quantity: Decimal = Field(description="negative on refund baskets")
    unit_price: Decimal = Field(description="kroner per unit, VAT included (as Shopbox sends)")
    discount: Decimal = Field(Decimal(0), description="kroner off this line, VAT included")


class Sale(Model):
    basket_id: str
    branch_id: str
    cash_register_id: str | None = None
    created_at: datetime
    currency: str = "DKK"
    lines: list[SaleLine]
    total: Decimal = Field(description="kroner, VAT included, after discounts")
    external_id: str | None = Field(
        None, description="Shopbox external_id, e.g. 'refund-<basket uid>' on a refund basket"
    )


class SaleCompleted(Event):
    type: Literal["SaleCompleted"] = "SaleCompleted"
    payload: Sale


class SaleRefunded(Event):
    """A refund basket: its own basket id, negative quantities (docs/decisions/0008)."""

    type: Literal["SaleRefunded"] = "SaleRefunded"
    payload: Sale


class SaleCancelledPayload(Model):
    basket_id: str
    branch_id: str
    cancelled_at: datetime


class SaleCancelled(Event):
    type: Literal["SaleCancelled"] = "SaleCancelled"
    payload: SaleCancelledPayload


SalesEvent = Annotated[SaleCompleted | SaleRefunded | SaleCancelled, Field(discriminator="type")]
sales_event_adapter: TypeAdapter[SaleCompleted | SaleRefunded | SaleCancelled] = TypeAdapter(
    SalesEvent
)


class SalesPollCursor(Model):
    """order-ingest's position in `GET /baskets` (newest first), on `shopbox.sales.cursor.v1`.

    `creation_time` is the newest basket time already published; `uids_at_time` are the baskets
    with exactly that time (Shopbox times are whole seconds, so more may arrive in that second).
    `floor` is the sync start point: baskets created before it are never synced, by any path
    (their stock was already in the figures the initial sync copied). None on cursors written
    before the field existed: then nothing is filtered.
    """

    creation_time: int = Field(description="unix seconds")
    uids_at_time: list[str] = Field(default_factory=list)
    floor: int | None = Field(
        None, description="unix seconds; baskets created before it are never synced"
    )


POLL_CURSOR_KEY = "order-ingest/baskets"
"""The key of the one cursor on `shopbox.sales.cursor.v1`; order-ingest moves it, and
`syncctl initial-sync` sets its sync start point."""


class SalesPollCursorMoved(Event):
    """On `shopbox.sales.cursor.v1` (compacted), keyed by `POLL_CURSOR_KEY`."""

    type: Literal["SalesPollCursorMoved"] = "SalesPollCursorMoved"
    payload: SalesPollCursor

    @classmethod
    def of(cls, cursor: SalesPollCursor, *, source: str) -> SalesPollCursorMoved:
        return cls(
            event_id=deterministic_id(POLL_CURSOR_KEY, cursor.creation_time, *cursor.uids_at_time),
            occurred_at=utcnow(),
            source=source,
            payload=cursor,
        )


def sale_event_id(basket_id: str, kind: str) -> str:
    """One id per (basket, kind): webhook, poll and sweep of the same sale collide on purpose."""
    return deterministic_id("shopbox", "basket", basket_id, kind)

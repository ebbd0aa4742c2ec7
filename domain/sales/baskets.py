"""Shopbox basket -> sale events: plain, typed and Kafka-free (unit-tested).

A basket yields its completion (or refund, when its product lines are negative; docs/decisions/0008)
and, when it is cancelled, also the cancellation, in that order. Event ids are deterministic per
(basket, kind), so the webhook, the poller and the sweep publishing the same basket collide on
purpose and the consumer drops the repeats.

The basket-level discount is folded into the lines (largest remainder, in øre), so the lines of
a `Sale` always add up to its total: the writer then never has to guess the unit of
`discount_margin` (unknown; docs/decisions/0013).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_FLOOR, Decimal

from schemas.envelope import utcnow
from schemas.money import CENTS
from schemas.sales import (
    Sale,
    SaleCancelled,
    SaleCancelledPayload,
    SaleCompleted,
    SaleLine,
    SaleRefunded,
    sale_event_id,
)
from services.clients.shopbox import Basket, BasketItem

SalesEvent = SaleCompleted | SaleRefunded | SaleCancelled


class UnusableBasket(ValueError):
    """The basket cannot become a sale event as it is (e.g. no branch)."""


def sale_events(basket: Basket, *, source: str) -> list[SalesEvent]:
    """The events this basket stands for, oldest fact first."""
    sale = to_sale(basket)
    kind = "refunded" if basket.is_refund else "completed"
    first_id = sale_event_id(basket.uid, kind)
    common = {
        "event_id": first_id,
        "occurred_at": basket.created_at,
        "source": source,
        "correlation_id": first_id,
        "payload": sale,
    }
    events: list[SalesEvent] = [
        SaleRefunded.model_validate(common)
        if basket.is_refund
        else SaleCompleted.model_validate(common)
    ]
    if basket.canceled:
        cancelled_at = (
            datetime.fromtimestamp(basket.updated_at, tz=UTC) if basket.updated_at else utcnow()
        )
        events.append(
            SaleCancelled(
                event_id=sale_event_id(basket.uid, "cancelled"),
                occurred_at=cancelled_at,
                source=source,
                causation_id=first_id,
                correlation_id=first_id,
                payload=SaleCancelledPayload(
                    basket_id=basket.uid, branch_id=sale.branch_id, cancelled_at=cancelled_at
                ),
            )
        )
    return events


def to_sale(basket: Basket) -> Sale:
    if not basket.branch:
        raise UnusableBasket(f"basket {basket.uid} has no branch")
    totals = [line_total(item) for item in basket.basket_items]
    basket_total = basket.total if basket.total is not None else sum(totals, Decimal(0))
    allocated = allocate(totals, basket_total)
    lines = [
        SaleLine(
            product_id=item.product,
            variant_id=item.product_variance,
            sku=item.sku_code or None,
            name=item.name or item.sku_code or "(no name)",
            quantity=item.quantity,
            unit_price=item.selling_price,
            discount=(item.quantity * item.selling_price - net).quantize(CENTS),
        )
        for item, net in zip(basket.basket_items, allocated, strict=True)
    ]
    return Sale(
        basket_id=basket.uid,
        branch_id=basket.branch,
        cash_register_id=basket.cash_register,
        created_at=basket.created_at,
        lines=lines,
        total=basket_total,
        external_id=basket.external_id,
    )


def line_total(item: BasketItem) -> Decimal:
    """Kroner incl. VAT after the line discount: Shopbox's own `total` when it sends one."""
    if item.total is not None:
        return item.total
    gross = item.quantity * item.selling_price
    return (gross * (1 - item.discount / 100)).quantize(CENTS)  # the simulator's percent guess


def allocate(totals: list[Decimal], target: Decimal) -> list[Decimal]:
    """Spread `sum(totals) - target` (a basket-level discount) over the lines in proportion to
    their totals, in whole øre (largest remainder), so the result adds up to `target` exactly."""
    current = sum(totals, Decimal(0))
    difference = current - target
    if difference == 0 or not totals:
        return list(totals)
    if current == 0:
        raise UnusableBasket("basket discount on a basket whose lines add up to zero")
    ore = int((difference * 100).to_integral_value())
    shares = [Decimal(ore) * total / current for total in totals]
    floors = [int(share.to_integral_value(rounding=ROUND_FLOOR)) for share in shares]
    remainder = ore - sum(floors)
    order = sorted(range(len(totals)), key=lambda i: shares[i] - floors[i], reverse=True)
    for i in order[:remainder]:
        floors[i] += 1
    return [
        (total - Decimal(cut) / 100).quantize(CENTS)
        for total, cut in zip(totals, floors, strict=True)
    ]

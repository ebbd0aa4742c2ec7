"""What one audit line says about one record: plain, typed and Kafka-free (unit-tested)."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from schemas.orders import OrderSynced
from schemas.stock import StockPushed
from schemas.topics import ORDERS_SYNCED, STOCK_PUSHED

AUDITED = (ORDERS_SYNCED, STOCK_PUSHED)


def audit_line(
    topic: str, namespace: str, key: bytes | None, value: bytes | None
) -> dict[str, Any]:
    """The fields of the audit line for a record of `topic` (under `namespace`).

    A record that does not parse still gets a line, marked `valid: false` with the reason: the
    audit is an observer, so it never blocks or drops; it reports.
    """
    base = topic.removeprefix(namespace)
    line: dict[str, Any] = {"topic": base, "key": key.decode(errors="replace") if key else None}
    if value is None:
        return line | {"valid": False, "error": "tombstone (no value)"}
    try:
        if base == ORDERS_SYNCED:
            return line | _order(OrderSynced.model_validate_json(value))
        if base == STOCK_PUSHED:
            return line | _stock(StockPushed.model_validate_json(value))
    except ValidationError as exc:
        return line | {"valid": False, "error": f"{exc.error_count()} validation error(s)"}
    return line | {"valid": False, "error": "topic not audited"}


def _order(event: OrderSynced) -> dict[str, Any]:
    p = event.payload
    return {
        "valid": True,
        "event_id": event.event_id,
        "type": event.type,
        "occurred_at": event.occurred_at.isoformat(),
        "basket_id": p.basket_id,
        "outcome": p.outcome,
        "rackbeat_order_number": p.rackbeat_order_number,
        "booked": p.booked,
    }


def _stock(event: StockPushed) -> dict[str, Any]:
    p = event.payload
    return {
        "valid": True,
        "event_id": event.event_id,
        "type": event.type,
        "occurred_at": event.occurred_at.isoformat(),
        "sku": p.sku,
        "branch_id": p.branch_id,
        "quantity": str(p.quantity),
        "previous_quantity": None if p.previous_quantity is None else str(p.previous_quantity),
        "cause": p.cause,
    }

"""services/audit/lines.py: what one audit line says, for each audited topic and for bad input."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from schemas.orders import OrderSynced, OrderSyncedPayload
from schemas.stock import StockPushed, StockPushedPayload
from services.audit.lines import audit_line

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def order() -> OrderSynced:
    return OrderSynced(
        event_id="e-1",
        occurred_at=NOW,
        source="order-writer",
        payload=OrderSyncedPayload(
            basket_id="b-7",
            rackbeat_order_number="1001",
            outcome="created",
            booked=True,
            synced_at=NOW,
        ),
    )


def push() -> StockPushed:
    return StockPushed(
        event_id="e-2",
        occurred_at=NOW,
        source="stock-publisher",
        payload=StockPushedPayload(
            sku="KAFFE-1",
            branch_id="1",
            product_id="10",
            quantity=Decimal(7),
            previous_quantity=None,
            cause="e-0",
            observed_at=NOW,
            pushed_at=NOW,
        ),
    )


def test_synced_order_line() -> None:
    line = audit_line("ns.orders.synced.v1", "ns.", b"b-7", order().model_dump_json().encode())
    assert line == {
        "topic": "orders.synced.v1",
        "key": "b-7",
        "valid": True,
        "event_id": "e-1",
        "type": "OrderSynced",
        "occurred_at": NOW.isoformat(),
        "basket_id": "b-7",
        "outcome": "created",
        "rackbeat_order_number": "1001",
        "booked": True,
    }


def test_stock_push_line_keeps_quantities_exact() -> None:
    line = audit_line("stock.pushed.v1", "", b"KAFFE-1|1", push().model_dump_json().encode())
    assert line["valid"] and line["sku"] == "KAFFE-1" and line["branch_id"] == "1"
    assert line["quantity"] == "7" and line["previous_quantity"] is None
    assert line["cause"] == "e-0"


def test_invalid_record_gets_a_line_with_the_reason() -> None:
    line = audit_line("stock.pushed.v1", "", None, b'{"event_id": 1}')
    assert line["valid"] is False and "validation error" in line["error"]
    assert line["key"] is None


def test_a_record_of_the_other_topic_does_not_parse_as_this_one() -> None:
    line = audit_line("orders.synced.v1", "", b"k", push().model_dump_json().encode())
    assert line["valid"] is False


def test_tombstone_and_unknown_topic() -> None:
    assert audit_line("orders.synced.v1", "", b"b-7", None)["error"] == "tombstone (no value)"
    assert audit_line("shopbox.sales.v1", "", b"b", b"{}")["error"] == "topic not audited"

"""The envelope and the topic catalog."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError

from schemas.envelope import deterministic_id
from schemas.sales import Sale, SaleCompleted, SaleLine, sale_event_id, sales_event_adapter
from schemas.topics import CATALOG, Topics, all_specs, dlq_name


def a_sale() -> SaleCompleted:
    return SaleCompleted(
        event_id=sale_event_id("B1", "completed"),
        occurred_at=datetime(2026, 11, 26, 10, 0, tzinfo=UTC),
        source="order-ingest/poll",
        payload=Sale(
            basket_id="B1",
            branch_id="1",
            created_at=datetime(2026, 11, 26, 10, 0, tzinfo=UTC),
            lines=[
                SaleLine(
                    product_id="p1",
                    sku="KAF-1",
                    name="Kaffe",
                    quantity=Decimal(2),
                    unit_price=Decimal("49.95"),
                )
            ],
            total=Decimal("99.90"),
        ),
    )


def test_event_ids_are_deterministic_per_fact() -> None:
    assert sale_event_id("B1", "completed") == sale_event_id("B1", "completed")
    assert sale_event_id("B1", "completed") != sale_event_id("B1", "cancelled")
    assert deterministic_id("a", 1) != deterministic_id("a", 2)


def test_sales_events_round_trip_through_json_by_type() -> None:
    event = a_sale()
    decoded = sales_event_adapter.validate_json(event.model_dump_json())
    assert decoded == event
    assert isinstance(decoded, SaleCompleted)


def test_unknown_fields_and_types_are_rejected() -> None:
    raw = a_sale().model_dump(mode="json")
    with pytest.raises(ValidationError):
        sales_event_adapter.validate_python({**raw, "surprise": 1})
    with pytest.raises(ValidationError):
        sales_event_adapter.validate_python({**raw, "type": "SaleTeleported"})


def test_catalog_has_a_dead_letter_topic_for_every_consumed_stream() -> None:
    names = {spec.name for spec in all_specs()}
    for spec in CATALOG:
        assert (dlq_name(spec.name) in names) == spec.dead_letters
    assert dlq_name("shopbox.sales.v1") in names
    compacted = {spec.name for spec in CATALOG if spec.compacted}
    assert {"orders.synced.v1", "rackbeat.stock.v1", "items.bindings.v1"} <= compacted
    assert "shopbox.sales.v1" not in compacted


def test_namespace_prefixes_every_topic() -> None:
    assert Topics("t1.").sales == "t1.shopbox.sales.v1"
    assert Topics().bindings == "items.bindings.v1"

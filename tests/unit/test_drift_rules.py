"""syncctl drift's pure rules: item field comparison per master, stock and sales labels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from domain.items.rules import PriceRules
from schemas.items import Binding
from schemas.stock import StockLevel
from services.clients import rackbeat_models as rb
from services.clients import shopbox as sb
from services.syncctl.drift import parse_since
from services.syncctl.drift_rules import (
    BasketFacts,
    DriftReport,
    ItemPair,
    StockSpotReading,
    basket_difference,
    error_difference,
    item_cause,
    item_differences,
    missing_item_difference,
    problem_differences,
    stock_difference,
    unbound_lines,
)

PRICES = PriceRules(Decimal(25))
NOW = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
GRACE = timedelta(minutes=2)


def shop_product(**fields: object) -> sb.Product:
    base: dict[str, object] = {
        "uid": "1",
        "name": "Bread",
        "sku_code": "BRD",
        "description": "Fresh",
        "selling_price": 2500,  # øre incl. VAT
    }
    return sb.Product.model_validate({**base, **fields})


def rb_product(**fields: object) -> rb.Product:
    base: dict[str, object] = {
        "number": "BRD",
        "name": "Bread",
        "description": "Fresh",
        "sales_price": "20.00",
    }
    return rb.Product.model_validate({**base, **fields})


def pair(shopbox: sb.Product | None, rackbeat: rb.Product | None, **binding: str) -> ItemPair:
    bound = Binding(sku="BRD", shopbox_product_id="1", rackbeat_item_number="BRD", **binding)
    return ItemPair([bound], shopbox, rackbeat)


# ------------------------------------------------------------------------------------ items


def test_equal_items_after_vat_conversion_show_no_difference() -> None:
    assert item_differences(pair(shop_product(), rb_product()), "shopbox", PRICES) == []
    assert item_differences(pair(shop_product(), rb_product()), "rackbeat", PRICES) == []


def test_shopbox_master_reports_rackbeat_fields_that_differ() -> None:
    found = item_differences(
        pair(shop_product(), rb_product(name="Brød", sales_price="19.00")), "shopbox", PRICES
    )
    assert found == [("name", "Bread", "Brød"), ("sales_price", "20.00", "19.00")]


def test_rackbeat_master_reports_shopbox_fields_incl_variants() -> None:
    shopbox = shop_product(
        description="Old",
        product_variances=[{"uid": "7", "selling_price": 2500, "description": "Old"}],
    )
    found = item_differences(pair(shopbox, rb_product()), "rackbeat", PRICES)
    assert ("description", "Fresh", "Old") in found
    assert ("variant 7 description", "Fresh", "Old") in found
    assert all("selling_price" not in name for name, _, _ in found)


def test_a_bound_product_missing_on_one_side_is_one_difference() -> None:
    found = item_differences(pair(shop_product(), None), "shopbox", PRICES)
    assert found == [("product", "Rackbeat item BRD", "not found in Rackbeat")]
    assert item_cause(pair(shop_product(), None), None)[0] == "missing-item"


def test_variant_binding_must_point_at_an_option_with_the_variant_value() -> None:
    shopbox = shop_product(
        product_variances=[
            {
                "uid": "7",
                "sku_code": "BRD-S",
                "variance_values": [{"name": "S", "variance_type": "Size"}],
            }
        ]
    )
    variation = rb.Variation(
        id=5,
        name="Size",
        types=[rb.VariationType(id=6, name="Size", options=[rb.VariationOption(id=9, name="M")])],
    )
    binding = Binding(
        sku="BRD-S",
        shopbox_product_id="1",
        shopbox_variant_id="7",
        rackbeat_item_number="BRD",
        rackbeat_variation_id="5",
        rackbeat_option_id="9",
    )
    item = ItemPair([binding], shopbox, rb_product(variation_id=5), variation)
    assert item_differences(item, "shopbox", PRICES) == [("variant BRD-S option", "S", "M")]


def test_item_cause_prefers_a_waiting_dead_letter() -> None:
    item = pair(shop_product(), rb_product(name="x"))
    assert item_cause(item, "ApiError: 422") == ("dead-letter", "ApiError: 422")
    assert item_cause(item, None)[0] == "manual-edit-or-missed-event"


def test_problem_bindings_are_unmapped() -> None:
    rows = problem_differences(
        [Binding(sku="DUP", problem="SKU 'DUP' is used by 2 Shopbox items"), Binding(sku="OK")]
    )
    assert [(r.subject, r.cause) for r in rows] == [("DUP", "unmapped")]


# ------------------------------------------------------------------------------------ stock


def level(stock: int, in_order: int = 0) -> StockLevel:
    return StockLevel(
        item_number="BRD",
        location_number=1,
        stock_quantity=Decimal(stock),
        in_order_quantity=Decimal(in_order),
        available_quantity=Decimal(stock - in_order),
    )


def reading(shopbox: int, rackbeat: StockLevel, **extra: object) -> StockSpotReading:
    return StockSpotReading("BRD", "1", 1, Decimal(shopbox), rackbeat, **extra)  # type: ignore[arg-type]


def test_equal_stock_is_no_row() -> None:
    assert stock_difference(reading(8, level(10, 2)), "available") is None
    assert stock_difference(reading(10, level(10, 2)), "in_stock") is None


def test_buffer_and_clamp_follow_stock_publisher() -> None:
    assert stock_difference(reading(7, level(10), buffer=Decimal(3)), "available") is None
    assert stock_difference(reading(0, level(1), buffer=Decimal(3)), "available") is None


def test_difference_explained_by_pending_sales() -> None:
    row = stock_difference(reading(8, level(10), pending=Decimal(2)), "available")
    assert row is not None
    assert (row.cause, row.expected, row.actual) == ("pending-sales", "8", "8")


def test_quantities_print_alike_on_both_sides() -> None:
    row = stock_difference(reading(0, level(35)), "available")
    assert row is not None
    assert (row.expected, row.actual) == ("35", "0")
    fractional = StockSpotReading("BRD", "1", 1, Decimal("35.0"), level(30))
    assert stock_difference(fractional, "available").actual == "35"  # type: ignore[union-attr]


def test_pending_from_a_dead_lettered_sale_is_labelled_dead_letter() -> None:
    row = stock_difference(
        reading(
            8,
            level(10),
            pending=Decimal(2),
            pending_dead_lettered=Decimal(2),
            dead_letter_reasons=("basket 5: MissingBinding",),
        ),
        "available",
    )
    assert row is not None
    assert row.cause == "dead-letter"
    assert "MissingBinding" in row.reason


def test_shopbox_not_reduced_by_a_pending_sale_is_drift() -> None:
    row = stock_difference(reading(10, level(10), pending=Decimal(2)), "available")
    assert row is not None
    assert row.cause == "manual-edit-or-missed-event"


def test_other_stock_differences() -> None:
    manual = stock_difference(reading(99, level(10)), "available")
    assert manual is not None
    assert manual.cause == "manual-edit-or-missed-event"
    racing = stock_difference(reading(7, level(10), unsettled=True), "available")
    assert racing is not None
    assert racing.cause == "pending-sales"
    stuck = stock_difference(
        reading(7, level(10), dead_letter_reasons=("stock record: 404",)), "available"
    )
    assert stuck is not None
    assert stuck.cause == "dead-letter"


# ------------------------------------------------------------------------------------ sales


def basket(uid: str = "5", age_s: int = 600, **fields: object) -> sb.Basket:
    base: dict[str, object] = {
        "uid": uid,
        "creation_time": int((NOW - timedelta(seconds=age_s)).timestamp()),
        "branch": "1",
        "basket_items": [{"product": "1", "sku_code": "BRD", "quantity": 1, "selling_price": 2500}],
    }
    return sb.Basket.model_validate({**base, **fields})


def facts(b: sb.Basket, **extra: object) -> BasketFacts:
    extra.setdefault("outcome", None)
    return BasketFacts(b, **extra)  # type: ignore[arg-type]


def cause_of(f: BasketFacts) -> str | None:
    row = basket_difference(f, NOW, GRACE)
    return row.cause if row else None


def test_a_basket_with_its_ledger_effect_is_no_row() -> None:
    assert cause_of(facts(basket(), outcome="created")) is None
    assert cause_of(facts(basket(canceled=True), outcome="cancelled")) is None


def test_sales_labels() -> None:
    assert cause_of(facts(basket(), streamed=frozenset({"SaleCompleted"}))) == "pending-sales"
    assert cause_of(facts(basket(age_s=30))) == "pending-sales"
    assert cause_of(facts(basket(), dead_letter_reason="MissingBinding: x")) == "dead-letter"
    assert cause_of(facts(basket(), unbound=("BRD",))) == "unmapped"
    assert cause_of(facts(basket(), branch_unmapped=True)) == "unmapped"
    assert cause_of(facts(basket())) == "manual-edit-or-missed-event"


def test_grace_counts_from_creation_unless_cancelled() -> None:
    touched = int(NOW.timestamp()) - 10
    assert cause_of(facts(basket(updated_at=touched))) == "manual-edit-or-missed-event"
    recent_cancel = basket(canceled=True, updated_at=touched)
    assert cause_of(facts(recent_cancel, outcome="created")) == "pending-sales"


def test_a_missed_cancellation_is_drift_even_with_an_order() -> None:
    cancelled = basket(canceled=True, updated_at=int((NOW - timedelta(minutes=5)).timestamp()))
    row = basket_difference(
        facts(cancelled, outcome="created", streamed=frozenset({"SaleCompleted"})), NOW, GRACE
    )
    assert row is not None
    assert (row.cause, row.expected) == ("manual-edit-or-missed-event", "ledger: cancelled")


def test_unbound_lines_skip_free_text() -> None:
    b = basket(
        basket_items=[
            {"product": "1", "sku_code": "BRD", "quantity": 1, "selling_price": 100},
            {"product": None, "name": "Shipping", "quantity": 1, "selling_price": 100},
        ]
    )
    assert unbound_lines(b, lambda item: False) == ["BRD"]
    assert unbound_lines(b, lambda item: True) == []


def test_only_manual_edit_or_missed_event_counts_as_unexplained() -> None:
    report = DriftReport()
    explained = stock_difference(reading(8, level(10), pending=Decimal(2)), "available")
    manual = stock_difference(reading(99, level(10)), "available")
    assert explained is not None
    assert manual is not None
    report.differences.append(explained)
    assert report.unexplained == 0
    report.differences.append(manual)
    assert report.unexplained == 1
    assert report.summary()["stock"] == {
        "unmapped": 0,
        "missing-item": 0,
        "pending-sales": 1,
        "dead-letter": 0,
        "manual-edit-or-missed-event": 1,
        "error": 0,
    }
    assert report.exit_code == 1


def test_a_missing_item_is_explained_and_an_error_makes_the_report_incomplete() -> None:
    report = DriftReport()
    binding = Binding(sku="BRD", shopbox_product_id="1", rackbeat_item_number="BRD")
    missing = missing_item_difference("stock", binding, "Rackbeat")
    assert (missing.cause, missing.expected, missing.actual) == (
        "missing-item",
        "Rackbeat item BRD",
        "not found in Rackbeat",
    )
    report.differences.append(missing)
    assert (report.unexplained, report.errors, report.exit_code) == (0, 0, 0)
    manual = stock_difference(reading(99, level(10)), "available")
    assert manual is not None
    report.differences.append(manual)
    assert report.exit_code == 1
    failed = error_difference("stock", "KOL", "stock", RuntimeError("Rackbeat GET failed (403)"))
    assert failed.cause == "error"
    assert "403" in failed.reason
    report.differences.append(failed)
    assert (report.errors, report.exit_code) == (1, 2)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("24h", NOW - timedelta(hours=24)),
        ("90m", NOW - timedelta(minutes=90)),
        ("2d", NOW - timedelta(days=2)),
        ("2025-04-30T08:00:00", datetime(2025, 4, 30, 8, tzinfo=UTC)),
    ],
)
def test_since_accepts_durations_and_times(text: str, expected: datetime) -> None:
    assert parse_since(text, NOW) == expected


def test_since_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="Invalid isoformat"):
        parse_since("yesterday", NOW)

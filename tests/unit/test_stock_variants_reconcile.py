"""stock-publisher's pure logic for variant stock and the reconciliation: matrix rows to levels,
keys per option, per-variant pending sales, sales not received yet, drift planning, and which
items are read per option."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from domain.stock.coalesce import PushBuffer
from domain.stock.levels import location_levels, option_levels
from domain.stock.pending import SEEN_MARGIN, PendingSales
from domain.stock.reconcile import Place, plan_corrections, skip_reason
from schemas.envelope import deterministic_id
from schemas.items import Binding, BindingChanged
from schemas.sales import Sale, SaleCompleted, SaleLine
from schemas.stock import StockLevel, StockObserved, stock_key
from services.clients.rackbeat_models import (
    ItemLocationStock,
    LineVariation,
    LocationRef,
    VariantStock,
)
from services.common.bindings import BindingsView
from services.common.settings import KafkaSettings

T0 = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
D = Decimal


def matrix_row(stock: int, in_order: int, *options: int) -> VariantStock:
    return VariantStock(
        options=[LineVariation(variation_id=900, option_id=o) for o in options],
        stock_quantity=D(stock),
        in_order_quantity=D(in_order),
        available_quantity=D(stock - in_order),
    )


# ------------------------------------------------------------------ reading


def test_matrix_rows_become_one_level_per_variant() -> None:
    rows = [
        matrix_row(10, 2, 901),
        matrix_row(0, 0, 902),
        matrix_row(5, 0, 950, 901),  # size x colour: one option of each type
        matrix_row(3, 0),  # no option: names no variant
    ]
    levels = option_levels("TSHIRT", 2, rows)
    assert [(lv.variation_option_id, lv.available_quantity) for lv in levels] == [
        ("901", D(8)),
        ("902", D(0)),
        ("901+950", D(5)),
    ]
    assert all(lv.item_number == "TSHIRT" and lv.location_number == 2 for lv in levels)
    keys = {stock_key(lv.item_number, lv.location_number, lv.variation_option_id) for lv in levels}
    assert keys == {"TSHIRT|2|901", "TSHIRT|2|902", "TSHIRT|2|901+950"}


def test_location_rows_of_a_plain_item() -> None:
    rows = [
        ItemLocationStock(location=LocationRef(number=n), stock_quantity=D(n), in_order_quantity=0)
        for n in (1, 2)
    ]
    levels = location_levels("A", rows)
    assert [(lv.location_number, lv.variation_option_id) for lv in levels] == [(1, None), (2, None)]
    assert stock_key("A", 1, None) == "A|1"


# ------------------------------------------------------------------ pending sales per variant


def variant_sale(basket: str, variant: str, quantity: int, created: datetime = T0) -> Sale:
    return Sale(
        basket_id=basket,
        branch_id="1",
        created_at=created,
        total=D(10),
        lines=[
            SaleLine(
                product_id="P",
                variant_id=variant,
                name="tee",
                quantity=D(quantity),
                unit_price=D(10),
            )
        ],
    )


@pytest.fixture
def pending() -> PendingSales:
    # the variant id is the SKU suffix, as bindings would resolve it
    return PendingSales(
        {"1": 1}, lambda line: f"TEE-{line.variant_id}" if line.variant_id else None
    )


def completed(sale: Sale) -> SaleCompleted:
    return SaleCompleted(
        event_id=deterministic_id("t", sale.basket_id), occurred_at=T0, source="t", payload=sale
    )


def test_variant_sale_is_pending_for_that_variant_only(pending: PendingSales) -> None:
    assert pending.on_sale(completed(variant_sale("b1", "M", 2))) == [("TEE-M", 1)]
    assert pending.pending(("TEE-M", 1), T0) == D(2)
    assert pending.pending(("TEE-L", 1), T0) == D(0)


def test_unseen_basket_spots(pending: PendingSales) -> None:
    seen = variant_sale("b1", "M", 1, T0)
    pending.on_sale(completed(seen))
    assert pending.unseen_spots(seen, cancelled=False) == []
    assert pending.unseen_spots(seen, cancelled=True) == [("TEE-M", 1)]  # cancel not arrived
    unseen = variant_sale("b2", "L", 1, T0 + timedelta(seconds=5))
    assert pending.unseen_spots(unseen, cancelled=False) == [("TEE-L", 1)]
    elsewhere = variant_sale("b3", "L", 1).model_copy(update={"branch_id": "9"})
    assert pending.unseen_spots(elsewhere, cancelled=False) == []


def test_sales_window_starts_before_the_newest_sale_seen(pending: PendingSales) -> None:
    now = T0 + timedelta(hours=3)
    assert pending.sales_window_start(now, timedelta(hours=48)) == now - timedelta(hours=48)
    pending.on_sale(completed(variant_sale("b1", "M", 1, T0)))
    pending.on_sale(completed(variant_sale("b0", "M", 1, T0 - timedelta(hours=1))))
    assert pending.sales_window_start(now, timedelta(hours=48)) == T0 - SEEN_MARGIN


# ------------------------------------------------------------------ reconciliation


def observation(key: str, stock: int, seconds: float = 0) -> StockObserved:
    item, location, *option = key.split("|")
    return StockObserved(
        event_id=f"o-{key}-{seconds}",
        occurred_at=T0,
        observed_at=T0 + timedelta(seconds=seconds),
        source="test",
        payload=StockLevel(
            item_number=item,
            location_number=int(location),
            variation_option_id=option[0] if option else None,
            stock_quantity=D(stock),
            in_order_quantity=D(0),
            available_quantity=D(stock),
        ),
    )


PLACES = {
    "A|1": Place("A", "1", "100", None),
    "T|1|901": Place("T-S", "1", "200", "2001"),
    "T|1|902": Place("T-M", "1", "200", "2002"),
}


def targets(event: StockObserved) -> list[tuple[Place, Decimal]]:
    level = event.payload
    key = stock_key(level.item_number, level.location_number, level.variation_option_id)
    return [(PLACES[key], level.available_quantity)] if key in PLACES else []


def test_drift_is_found_per_variant_and_missing_rows_read_as_zero() -> None:
    observations = [
        ("A|1", observation("A|1", 5)),
        ("T|1|901", observation("T|1|901", 3)),
        ("T|1|902", observation("T|1|902", 4)),
        ("X|1", observation("X|1", 9)),  # unbound: no place
    ]
    figures = {"1": {("100", None): D(5), ("200", "2001"): D(99)}}
    corrections, skipped = plan_corrections(observations, targets, figures, lambda *_: None)
    assert [(c.place.sku, c.before, c.target, c.drift) for c in corrections] == [
        ("T-S", D(99), D(3), D(96)),
        ("T-M", None, D(4), D(-4)),
    ]
    assert not skipped


def test_drift_in_motion_is_skipped_and_counted() -> None:
    observations = [("A|1", observation("A|1", 5)), ("T|1|901", observation("T|1|901", 3))]
    figures = {"1": {("100", None): D(4), ("200", "2001"): D(1)}}

    def skip(key: str, event: StockObserved, place: Place) -> str | None:
        return "sale_in_transit" if place.sku == "A" else None

    corrections, skipped = plan_corrections(observations, targets, figures, skip)
    assert [c.place.sku for c in corrections] == ["T-S"]
    assert skipped == {"sale_in_transit": 1}


def test_skip_reasons_in_order() -> None:
    names = ("waiting", "newer_applied", "written_meanwhile", "sale_in_transit")
    flags = dict.fromkeys(names, False)
    assert skip_reason(**flags) is None
    for name, reason in [
        ("waiting", "write_pending"),
        ("newer_applied", "table_behind"),
        ("written_meanwhile", "written_meanwhile"),
        ("sale_in_transit", "sale_in_transit"),
    ]:
        assert skip_reason(**{**flags, name: True}) == reason


def test_a_correction_makes_older_records_stale() -> None:
    buffer = PushBuffer(quiet_s=0, max_delay_s=1)
    newest = observation("T|1|901", 3, seconds=10)
    buffer.mark_applied("T|1|901", newest.observed_at)
    assert buffer.applied_at("T|1|901") == newest.observed_at
    assert not buffer.offer("T|1|901", observation("T|1|901", 7, seconds=5), 0, 1, now=0)
    assert buffer.offer("T|1|901", observation("T|1|901", 3, seconds=10), 0, 2, now=0)
    assert buffer.waiting("T|1|901")


# ------------------------------------------------------------------ bindings


def binding_record(sku: str, item: str, option: str | None, problem: str | None = None) -> bytes:
    event = BindingChanged(
        event_id=f"b-{sku}",
        occurred_at=T0,
        source="test",
        payload=Binding(
            sku=sku,
            shopbox_product_id="200",
            shopbox_variant_id=option,
            rackbeat_item_number=item,
            rackbeat_variation_id="900" if option else None,
            rackbeat_option_id=option,
            problem=problem,
        ),
    )
    return event.model_dump_json().encode()


def test_items_with_bound_options_and_live_bindings_ask_for_a_read() -> None:
    view = BindingsView(KafkaSettings(), "bindings")  # fed by hand: no broker involved
    asked: list[str] = []
    view.on_bound = asked.append
    view.apply("T-S", binding_record("T-S", "T", "901"))  # the replay: no reads asked
    view.apply("A", binding_record("A", "A", None))
    view.apply("BAD", binding_record("BAD", "B", "7", problem="duplicate SKU"))
    assert view.has_options("T") and not view.has_options("A") and not view.has_options("B")
    assert view.by_rackbeat("T", "901") is not None and asked == []
    view._caught_up.set()
    view.apply("T-M", binding_record("T-M", "T", "902"))
    view.apply("T-S", None)  # tombstone: T-M still binds an option of T
    assert view.has_options("T") and asked == ["T"]
    view.apply("T-M", binding_record("T-M", "T2", "902"))  # moved to another item
    assert not view.has_options("T") and view.has_options("T2") and asked == ["T", "T2"]

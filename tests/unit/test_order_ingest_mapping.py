"""Basket -> sale events, the poll cursor and the sweep's decision (pure logic)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from domain.sales.baskets import UnusableBasket, allocate, sale_events
from domain.sales.cursor import advance, initial_cursor
from domain.sales.sweep import needs_republish
from schemas.sales import SaleCancelled, SaleCompleted, SaleRefunded, SalesPollCursor, sale_event_id
from services.clients.shopbox import Basket
from services.common.webhook_input import Rejected
from services.order_ingest.webhook import ShopboxPush, SoldUnits, parse_push


def basket(uid: int = 900001, **over: Any) -> Basket:
    raw: dict[str, Any] = {
        "uid": uid,
        "creation_time": 1_700_000_000,
        "updated_at": 1_700_000_000,
        "canceled": False,
        "cash_register": 11,
        "branch": 1,
        "discount_margin": 0,
        "total": 2 * 12500 + 3800,
        "basket_items": [
            {
                "product": 100001,
                "product_variance": None,
                "sku_code": "BRD-0001",
                "name": "Brød",
                "quantity": 2,
                "selling_price": 12500,
                "discount": 0,
                "total": 25000,
            },
            {
                "product": 100261,
                "product_variance": 200002,
                "sku_code": "TOJ-0001-M",
                "name": "T-shirt M",
                "quantity": 1,
                "selling_price": 3800,
                "discount": 0,
                "total": 3800,
            },
        ],
    }
    raw.update(over)
    return Basket.model_validate(raw)


def test_a_sale_becomes_one_completion_with_kroner_incl_vat_and_a_deterministic_id() -> None:
    (event,) = sale_events(basket(), source="test")
    assert isinstance(event, SaleCompleted)
    assert event.event_id == sale_event_id("900001", "completed")
    sale = event.payload
    assert (sale.basket_id, sale.branch_id, sale.total) == ("900001", "1", Decimal("288.00"))
    assert sale.lines[0].unit_price == Decimal("125.00")
    assert sale.lines[1].variant_id == "200002" and sale.lines[1].sku == "TOJ-0001-M"
    assert all(line.discount == 0 for line in sale.lines)
    again = sale_events(basket(), source="other")[0]
    assert again.event_id == event.event_id


def test_a_cancelled_basket_yields_completion_then_cancellation() -> None:
    events = sale_events(basket(canceled=True, updated_at=1_700_000_100), source="t")
    assert [type(e) for e in events] == [SaleCompleted, SaleCancelled]
    assert events[1].causation_id == events[0].event_id
    assert events[1].event_id == sale_event_id("900001", "cancelled")


def test_a_refund_basket_with_negative_quantities_is_a_refund_event() -> None:
    items = [
        {
            "product": 100001,
            "sku_code": "BRD-0001",
            "name": "Brød",
            "quantity": -1,
            "selling_price": 12500,
            "discount": 0,
            "total": -12500,
        }
    ]
    (event,) = sale_events(
        basket(900002, basket_items=items, total=-12500, external_id="refund-900001"), source="t"
    )
    assert isinstance(event, SaleRefunded)
    assert event.payload.lines[0].quantity == -1
    assert event.payload.external_id == "refund-900001"


def test_line_discount_percent_becomes_kroner_off_the_line() -> None:
    items = [
        {
            "product": 1,
            "sku_code": "A",
            "name": "A",
            "quantity": 3,
            "selling_price": 1000,
            "discount": 10,
            "total": 2700,
        }
    ]
    (event,) = sale_events(basket(basket_items=items, total=2700), source="t")
    assert isinstance(event, SaleCompleted)
    assert event.payload.lines[0].discount == Decimal("3.00")


def test_basket_discount_is_spread_over_lines_so_they_add_up_to_the_total() -> None:
    (event,) = sale_events(basket(discount_margin=1001, total=28800 - 1001), source="t")
    assert isinstance(event, SaleCompleted)
    sale = event.payload
    nets = [line.quantity * line.unit_price - line.discount for line in sale.lines]
    assert sum(nets) == sale.total == Decimal("277.99")
    assert sale.lines[0].discount > sale.lines[1].discount > 0


def test_allocate_uses_whole_ore_and_hits_the_target_exactly() -> None:
    totals = [Decimal("10.00"), Decimal("10.00"), Decimal("10.00")]
    result = allocate(totals, Decimal("29.99"))
    assert sum(result) == Decimal("29.99")
    assert sorted(result) == [Decimal("9.99"), Decimal("10.00"), Decimal("10.00")]
    with pytest.raises(UnusableBasket):
        allocate([Decimal(0)], Decimal("-1"))


def test_a_basket_without_branch_is_refused() -> None:
    with pytest.raises(UnusableBasket, match="no branch"):
        sale_events(basket(branch=None), source="t")


def test_cursor_publishes_only_new_baskets_oldest_first_even_within_one_second() -> None:
    cursor = SalesPollCursor(creation_time=100, uids_at_time=["5"])
    listed = [
        basket(7, creation_time=101),
        basket(6, creation_time=100),
        basket(5, creation_time=100),
        basket(4, creation_time=99),
    ]
    new, moved = advance(cursor, listed)
    assert [b.uid for b in new] == ["6", "7"]
    assert moved == SalesPollCursor(creation_time=101, uids_at_time=["7"])
    again, same = advance(moved, listed)
    assert again == [] and same == moved


def test_cursor_keeps_earlier_uids_when_more_arrive_in_the_same_second() -> None:
    new, moved = advance(
        SalesPollCursor(creation_time=100, uids_at_time=["5"]), [basket(6, creation_time=100)]
    )
    assert [b.uid for b in new] == ["6"]
    assert moved.uids_at_time == ["5", "6"]


def test_initial_cursor_looks_back() -> None:
    assert initial_cursor(1000, 300).creation_time == 700


@pytest.mark.parametrize(
    ("canceled", "refund", "outcome", "dead", "expected"),
    [
        (False, False, None, False, True),
        (False, False, "created", False, False),
        (False, False, "found_existing", False, False),
        (False, False, None, True, False),
        (True, False, "created", False, True),
        (True, False, "cancelled", False, False),
        (False, True, None, False, True),
        (False, True, "refunded", False, False),
    ],
)
def test_sweep_republishes_what_the_ledger_lacks(
    canceled: bool, refund: bool, outcome: Any, dead: bool, expected: bool
) -> None:
    items = [
        {
            "product": 1,
            "name": "A",
            "quantity": -1 if refund else 1,
            "selling_price": 100,
            "total": -100 if refund else 100,
        }
    ]
    b = basket(canceled=canceled, basket_items=items, total=-100 if refund else 100)
    assert needs_republish(b, outcome, dead) is expected


def test_push_parsing_takes_only_the_uid_and_says_what_is_wrong() -> None:
    ok = parse_push(b'{"event": "basket.created", "basket_uid": 900001, "items": []}', None)
    assert ok == ShopboxPush(event="basket.created", basket_uid="900001")
    assert parse_push(b'{"basket_uid": 7}', "basket.canceled") == ShopboxPush(
        event="basket.canceled", basket_uid="7"
    )
    with pytest.raises(Rejected) as not_json:
        parse_push(b"not json", None)
    assert not_json.value.status == 400 and "not valid UTF-8 JSON" in not_json.value.reason
    assert "basket_uid" in str(parse_push(b'{"event": "basket.created"}', None))
    assert "event" in str(parse_push(b'{"event": "basket.exploded", "basket_uid": 1}', None))
    assert "basket_uid must be" in str(
        parse_push(b'{"event": "basket.created", "basket_uid": "../x"}', None)
    )
    assert str(parse_push(b"7", None)).startswith("body must be a JSON object with event")
    assert str(parse_push(b"[1]", "updateInventory")).startswith("invalid push: 0:")
    assert "product_id" in str(parse_push(b'[{"quantity": 1}]', "updateInventory"))


def test_an_update_inventory_push_is_read_as_units_sold() -> None:
    body = b'[{"product_id": 100002, "quantity": 2}, {"product_id": 7, "variance_id": 9, '
    body += b'"quantity": 1}]'
    assert parse_push(body, "updateInventory") == [
        SoldUnits(product_id="100002", quantity=2),
        SoldUnits(product_id="7", variance_id="9", quantity=1),
    ]
    assert parse_push(b"[]", None) == []

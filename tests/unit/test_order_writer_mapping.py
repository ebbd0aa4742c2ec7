"""Sale -> Rackbeat order: lines by binding, VAT, discounts, customer, location (pure logic)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from domain.items.rules import duplicate_problem
from domain.sales.orders import (
    MissingBinding,
    OrderRules,
    Unmappable,
    build_order,
    line_money,
    order_reference,
    rackbeat_price,
)
from schemas.items import Binding
from schemas.sales import Sale, SaleLine

BINDINGS = {
    ("1", None): Binding(sku="KAF-1", shopbox_product_id="1", rackbeat_item_number="KAF-1"),
    ("2", "20"): Binding(
        sku="TS-M",
        shopbox_product_id="2",
        shopbox_variant_id="20",
        rackbeat_item_number="TS",
        rackbeat_variation_id="900",
        rackbeat_option_id="903",
    ),
}


def lookup(line: SaleLine) -> Binding | None:
    return BINDINGS.get((line.product_id or "", line.variant_id))


def line(product: str | None = "1", variant: str | None = None, **over: object) -> SaleLine:
    fields: dict[str, object] = {
        "product_id": product,
        "variant_id": variant,
        "sku": "KAF-1",
        "name": "Kaffe",
        "quantity": Decimal(2),
        "unit_price": Decimal("125.00"),
        "discount": Decimal(0),
    }
    fields.update(over)
    return SaleLine.model_validate(fields)


def sale(*lines: SaleLine, branch: str = "1") -> Sale:
    return Sale(
        basket_id="900001",
        branch_id=branch,
        created_at=datetime(2025, 3, 4, 10, tzinfo=UTC),
        lines=list(lines),
        total=sum((x.quantity * x.unit_price - x.discount for x in lines), Decimal(0)),
    )


def test_lines_are_mapped_by_binding_with_net_prices_customer_and_reference() -> None:
    rules = OrderRules(customer_number=7, branch_locations={"1": 2, "2": 1})
    order = build_order(
        sale(line(), line("2", "20", sku="TS-M", quantity=Decimal(1))), "sale", lookup, rules
    )
    assert order.customer_id == 7
    assert order.their_reference == order_reference("900001") == "shopbox-basket-900001"
    assert order.heading == "Shopbox sale 900001 [shopbox-basket-900001]"
    assert order.order_date.isoformat() == "2025-03-04"  # type: ignore[union-attr]
    first, second = order.lines
    assert (first.item_id, first.quantity) == ("KAF-1", Decimal(2))
    assert first.line_price == Decimal("100.00")
    assert first.location_id == 2 and first.discount_percentage is None
    assert second.item_id == "TS"
    assert [(v.variation_id, v.option_id) for v in second.variations] == [(900, 903)]


def test_discount_becomes_a_percentage_of_the_line_and_totals_match_shopbox() -> None:
    discounted = line(discount=Decimal("25.00"))  # 10 % off 250.00
    price, percent = line_money(discounted, OrderRules())
    assert (price, percent) == (Decimal("100.00"), Decimal("10.00"))
    assert percent is not None
    rackbeat_total_incl_vat = 2 * price * (1 - percent / 100) * Decimal("1.25")
    assert rackbeat_total_incl_vat == Decimal("225.00")


def test_a_surcharge_is_sent_as_a_net_unit_price() -> None:
    price, percent = line_money(line(discount=Decimal("-50.00")), OrderRules())
    assert (price, percent) == (Decimal("120.00"), None)  # 150 incl. VAT per unit


def test_vat_conversion_follows_both_sides_settings() -> None:
    gross = Decimal("129.95")
    assert rackbeat_price(gross, OrderRules()) == Decimal("103.96")
    both_incl = OrderRules(rackbeat_prices_include_vat=True)
    assert rackbeat_price(gross, both_incl) == gross
    net_pos = OrderRules(shopbox_prices_include_vat=False, rackbeat_prices_include_vat=True)
    assert rackbeat_price(Decimal("100"), net_pos) == Decimal("125.00")


def test_refund_keeps_negative_quantities_and_names_the_original_sale() -> None:
    refund = sale(line(quantity=Decimal(-1)))
    refund = refund.model_copy(update={"basket_id": "900009", "external_id": "refund-900001"})
    order = build_order(refund, "refund", lookup, OrderRules())
    assert order.lines[0].quantity == -1
    assert order.their_reference == "shopbox-basket-900009"
    assert order.note == "Refund basket 900009 of sale 900001"


def test_unknown_sku_is_a_retryable_missing_binding_that_says_what_to_do() -> None:
    with pytest.raises(MissingBinding) as raised:
        build_order(sale(line("9", sku="NOPE")), "sale", lookup, OrderRules())
    reason = str(raised.value)
    assert reason.startswith("SKU 'NOPE' (Shopbox product 9) has no Rackbeat item:")
    assert "syncctl dlq redrive" in reason and "yet" not in reason


def test_a_reported_sku_problem_is_the_reason_and_an_empty_sku_says_so() -> None:
    problem = duplicate_problem("BRD-0001", [("100001", None), ("100260", None)])
    reported = Binding(sku="BRD-0001", shopbox_product_id="100260", problem=problem)
    with pytest.raises(MissingBinding) as raised:
        build_order(sale(line("100001", sku="BRD-0001")), "sale", lambda _: reported, OrderRules())
    assert str(raised.value) == (
        "SKU 'BRD-0001' has no Rackbeat item: SKU 'BRD-0001' is used by 2 Shopbox items "
        "(product 100001, product 100260): give each of them its own SKU in Shopbox; "
        "then `syncctl dlq redrive`"
    )
    with pytest.raises(
        MissingBinding, match=r"^the line has no SKU \(Shopbox product 9 variant 4\)"
    ):
        build_order(sale(line("9", "4", sku=None)), "sale", lookup, OrderRules())


def test_unmapped_branch_and_free_text_lines_are_permanent_with_the_setting_named() -> None:
    with pytest.raises(Unmappable, match="SYNC_BRANCH_LOCATIONS"):
        build_order(sale(line(), branch="3"), "sale", lookup, OrderRules(branch_locations={"1": 1}))
    with pytest.raises(Unmappable, match="FREE_TEXT_ITEM"):
        build_order(sale(line(None, name="Fragt")), "sale", lookup, OrderRules())
    order = build_order(
        sale(line(None, name="Fragt")), "sale", lookup, OrderRules(free_text_item="FRAGT")
    )
    assert order.lines[0].item_id == "FRAGT" and order.lines[0].location_id is None

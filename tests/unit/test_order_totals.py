"""The order's total incl. VAT equals the basket's to the øre, for any basket (decision 0014).

The oracle is the Rackbeat simulator's own total (`records.order_totals`), under each of its VAT
rounding guesses, with the rounding item in a VAT-free group; the order is built by the domain.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import get_args

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.sales.orders import (
    ROUNDING_LINE_NAME,
    OrderRules,
    VatRounding,
    build_order,
)
from infra.simulators.rackbeat.records import VAT_ROUNDINGS, OrderLine, order_totals
from schemas.items import Binding
from schemas.sales import Sale, SaleLine
from services.clients.rackbeat_models import NewOrder

ROUNDING_ITEM = "AFRUNDING"
VAT_PERCENTS = [Decimal(0), Decimal("12.5"), Decimal(25)]


def lookup(line: SaleLine) -> Binding:
    return Binding(
        sku=line.sku or "",
        shopbox_product_id=line.product_id or "",
        rackbeat_item_number=f"RB-{line.sku}",
    )


@st.composite
def sale_lines(draw: st.DrawFn, sign: int) -> SaleLine:
    quantity = Decimal(draw(st.integers(1, 25)) * sign)
    unit_ore = draw(st.integers(0, 500_000))
    unit = Decimal(unit_ore) / 100
    gross_ore = int(abs(quantity)) * unit_ore
    kind = draw(st.sampled_from(["none", "discount", "surcharge", "whole-percent"]))
    if kind == "discount":
        off_ore = draw(st.integers(0, gross_ore))
    elif kind == "surcharge":
        off_ore = -draw(st.integers(1, 100_000))
    elif kind == "whole-percent":
        off_ore = round(gross_ore * draw(st.sampled_from([5, 10, 15, 33, 50])) / 100)
    else:
        off_ore = 0
    sku = f"SKU-{draw(st.integers(1, 10_000))}"
    return SaleLine(
        product_id=sku,
        sku=sku,
        name=sku,
        quantity=quantity,
        unit_price=unit,
        discount=Decimal(off_ore * sign) / 100,
    )


@st.composite
def sales(draw: st.DrawFn) -> Sale:
    sign = draw(st.sampled_from([1, -1]))  # a sale, or a refund basket (negative quantities)
    lines = draw(st.lists(sale_lines(sign), min_size=1, max_size=8))
    return Sale(
        basket_id="1",
        branch_id="1",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        lines=lines,
        total=sum((x.quantity * x.unit_price - x.discount for x in lines), Decimal(0)),
    )


def simulator_total(order: NewOrder, vat_percent: Decimal, rounding: str) -> Decimal:
    """What the Rackbeat simulator shows as `total_total` for this order body."""
    lines = [
        OrderLine(
            id=i,
            item_number=line.item_id,
            name=line.name or "",
            quantity=line.quantity,
            line_price=line.line_price or Decimal(0),
            discount_percentage=line.discount_percentage or Decimal(0),
            location_number=1,
        )
        for i, line in enumerate(order.lines)
    ]
    return order_totals(lines, vat_percent / 100, rounding, {ROUNDING_ITEM})[2]


def test_the_simulator_and_the_domain_know_the_same_vat_roundings() -> None:
    assert set(get_args(VatRounding)) == set(VAT_ROUNDINGS)


@settings(max_examples=1000, deadline=None)
@given(
    sale=sales(),
    vat_percent=st.sampled_from(VAT_PERCENTS),
    rounding=st.sampled_from(list(VAT_ROUNDINGS)),
)
def test_every_order_total_incl_vat_equals_its_basket_total(
    sale: Sale, vat_percent: Decimal, rounding: VatRounding
) -> None:
    rules = OrderRules(vat_percent=vat_percent, rounding_item=ROUNDING_ITEM, vat_rounding=rounding)
    order = build_order(sale, "sale", lookup, rules)
    assert simulator_total(order, vat_percent, rounding) == sale.total
    extra = [line for line in order.lines if line.item_id == ROUNDING_ITEM]
    assert len(extra) <= 1 and len(order.lines) - len(extra) == len(sale.lines)


def test_without_a_rounding_item_the_order_keeps_only_the_basket_lines() -> None:
    line = SaleLine(
        product_id="1", sku="A", name="A", quantity=Decimal(3), unit_price=Decimal("33.33")
    )
    sale = Sale(
        basket_id="1",
        branch_id="1",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        lines=[line],
        total=Decimal("99.99"),
    )
    plain = build_order(sale, "sale", lookup, OrderRules())
    assert [x.item_id for x in plain.lines] == ["RB-A"]
    assert simulator_total(plain, Decimal(25), "order") == Decimal("99.98")  # 3 x 26.66 net + VAT
    rounded = build_order(sale, "sale", lookup, OrderRules(rounding_item=ROUNDING_ITEM))
    (extra,) = [x for x in rounded.lines if x.item_id == ROUNDING_ITEM]
    assert (extra.quantity, extra.line_price, extra.name) == (
        Decimal(1),
        Decimal("0.01"),
        ROUNDING_LINE_NAME,
    )
    assert simulator_total(rounded, Decimal(25), "order") == Decimal("99.99")


def test_the_two_vat_roundings_differ_so_the_setting_matters() -> None:
    lines = [
        OrderLine(i, f"I{i}", "x", Decimal(1), Decimal("0.02"), Decimal(0), 1) for i in range(2)
    ]
    assert order_totals(lines, Decimal("0.25"), "order", set())[2] == Decimal("0.05")
    assert order_totals(lines, Decimal("0.25"), "line", set())[2] == Decimal("0.06")

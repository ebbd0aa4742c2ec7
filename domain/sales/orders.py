"""Sale -> Rackbeat order: plain, typed and Kafka-free (unit-tested).

Money: Shopbox sends unit prices incl. VAT (øre, already kroner in the `Sale`); Rackbeat line
prices exclude VAT by default. Each unit price is converted once with `schemas.money`, and a
line discount is sent as Rackbeat's `discount_percentage` of that line (the share of the gross
line Shopbox took off), so list price and discount both stay visible in Rackbeat. A line whose
discount is not a 0-100 % share (a surcharge) is sent at its net unit price instead.

Totals: prices rounded to the øre per line cannot always add up to the till's total incl. VAT, so
with a rounding item configured the order gets one VAT-free "Øreafrunding" line for the
difference, computed the way Rackbeat rounds VAT (`vat_rounding`; docs/decisions/0014).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from schemas.items import Binding
from schemas.money import CENTS, excl_vat, incl_vat
from schemas.sales import Sale, SaleLine
from services.clients.rackbeat import heading_with_reference
from services.clients.rackbeat_models import NewOrder, NewOrderLine, VariationPick

Kind = Literal["sale", "refund"]
VatRounding = Literal["order", "line"]
ROUNDING_LINE_NAME = "Øreafrunding"
BindingLookup = Callable[[SaleLine], Binding | None]


class MissingBinding(Exception):
    """No usable SKU binding: retried for a while (item-mapper may be about to publish it), then
    dead-lettered with a reason that says what to fix."""


class Unmappable(Exception):
    """The sale can never become an order as it is, under the current settings."""


@dataclass(frozen=True)
class OrderRules:
    customer_number: int = 1
    book: bool = True
    vat_percent: Decimal = Decimal(25)
    shopbox_prices_include_vat: bool = True
    rackbeat_prices_include_vat: bool = False
    branch_locations: Mapping[str, int] = field(default_factory=dict)
    free_text_item: str | None = None
    rounding_item: str | None = None
    vat_rounding: VatRounding = "order"


def order_reference(basket_id: str) -> str:
    """The order's `their_reference`: how we find it again (look up before create)."""
    return f"shopbox-basket-{basket_id}"


def refund_origin(sale: Sale) -> str | None:
    """The basket a refund basket refunds, when Shopbox says so (`external_id`)."""
    if sale.external_id and sale.external_id.startswith("refund-"):
        return sale.external_id.removeprefix("refund-")
    return None


def build_order(sale: Sale, kind: Kind, lookup: BindingLookup, rules: OrderRules) -> NewOrder:
    location = location_for(sale.branch_id, rules)
    lines = [order_line(line, lookup, rules, location) for line in sale.lines]
    rounding = rounding_line(sale.total, lines, rules, location)
    if rounding is not None:
        lines.append(rounding)
    if kind == "refund":
        origin = refund_origin(sale)
        heading = f"Shopbox refund {sale.basket_id}"
        note = f"Refund basket {sale.basket_id}" + (f" of sale {origin}" if origin else "")
    else:
        heading, note = f"Shopbox sale {sale.basket_id}", None
    return NewOrder(
        customer_id=rules.customer_number,
        lines=lines,
        heading=heading_with_reference(heading, order_reference(sale.basket_id)),
        their_reference=order_reference(sale.basket_id),
        currency=sale.currency,
        order_date=sale.created_at.date(),
        note=note,
    )


def location_for(branch_id: str, rules: OrderRules) -> int | None:
    """The mapped location; with no mapping at all, Rackbeat's default location (None)."""
    if not rules.branch_locations:
        return None
    if branch_id not in rules.branch_locations:
        raise Unmappable(
            f"Shopbox branch {branch_id} has no location in SYNC_BRANCH_LOCATIONS: add it "
            f"(branch uid -> Rackbeat location), restart order-writer, {REDRIVE}"
        )
    return rules.branch_locations[branch_id]


def order_line(
    line: SaleLine, lookup: BindingLookup, rules: OrderRules, location: int | None
) -> NewOrderLine:
    item, variations = rackbeat_item(line, lookup, rules)
    price, discount = line_money(line, rules)
    return NewOrderLine(
        item_id=item,
        quantity=line.quantity,
        line_price=price,
        discount_percentage=discount,
        location_id=location,
        variations=variations,
        name=line.name,
    )


def rackbeat_item(
    line: SaleLine, lookup: BindingLookup, rules: OrderRules
) -> tuple[str, list[VariationPick]]:
    if line.product_id is None:
        if rules.free_text_item is None:
            raise Unmappable(
                f"line '{line.name}' has no Shopbox product: set "
                "ORDER_WRITER_FREE_TEXT_ITEM_NUMBER to a Rackbeat item for such lines, restart "
                f"order-writer, {REDRIVE}"
            )
        return rules.free_text_item, []
    binding = lookup(line)
    what = f"SKU {line.sku!r} (Shopbox product {line.product_id}, variant {line.variant_id})"
    if binding is None or binding.problem or not binding.rackbeat_item_number:
        raise MissingBinding(missing_reason(line, binding))
    options = binding.option_ids()
    if not options:
        return binding.rackbeat_item_number, []
    if binding.rackbeat_variation_id is None:
        raise MissingBinding(
            f"the binding of {what} has a variation option but no variation id: re-publish it "
            f"(`syncctl initial-sync`, or item-mapper's next full pass), {REDRIVE}"
        )
    # One pick per variation type: a size x colour variant names its size and its colour.
    variation = int(binding.rackbeat_variation_id)
    picks = [VariationPick(variation_id=variation, option_id=int(o)) for o in options]
    return binding.rackbeat_item_number, picks


REDRIVE = "then `syncctl dlq redrive`"


def missing_reason(line: SaleLine, binding: Binding | None) -> str:
    """What is wrong with the line's item and what the operator does about it."""
    where = f"Shopbox product {line.product_id}" + (
        f" variant {line.variant_id}" if line.variant_id else ""
    )
    if not line.sku:
        return f"the line has no SKU ({where}): give the product a unique SKU in Shopbox, {REDRIVE}"
    if binding is not None and binding.problem:
        # The problem names its own cause and fix (domain/items/rules.py): a two-type variant
        # product's SKU is fine, so "fix the SKU" would mislead.
        return f"SKU {line.sku!r} has no Rackbeat item: {binding.problem}; {REDRIVE}"
    return (
        f"SKU {line.sku!r} ({where}) has no Rackbeat item: item-mapper has not bound it "
        f"(check its /status and log for this SKU, or run `syncctl initial-sync`), {REDRIVE}"
    )


def rackbeat_price(shopbox_price: Decimal, rules: OrderRules) -> Decimal:
    """A Shopbox unit price as Rackbeat wants it (VAT per both sides' settings)."""
    if rules.shopbox_prices_include_vat and not rules.rackbeat_prices_include_vat:
        return excl_vat(shopbox_price, rules.vat_percent)
    if rules.rackbeat_prices_include_vat and not rules.shopbox_prices_include_vat:
        return incl_vat(shopbox_price, rules.vat_percent)
    return shopbox_price.quantize(CENTS, rounding=ROUND_HALF_UP)


def line_money(line: SaleLine, rules: OrderRules) -> tuple[Decimal, Decimal | None]:
    """(unit price for Rackbeat, discount percentage or None)."""
    if line.discount == 0:
        return rackbeat_price(line.unit_price, rules), None
    gross = line.quantity * line.unit_price
    percent = (line.discount / gross * 100) if gross else Decimal(-1)
    if 0 <= percent <= 100:
        return rackbeat_price(line.unit_price, rules), percent.quantize(CENTS, ROUND_HALF_UP)
    net_unit = (gross - line.discount) / line.quantity
    return rackbeat_price(net_unit, rules), None


def line_total_incl_vat(line: SaleLine) -> Decimal:
    return line.quantity * line.unit_price - line.discount


def rounding_line(
    target: Decimal, lines: list[NewOrderLine], rules: OrderRules, location: int | None
) -> NewOrderLine | None:
    """The VAT-free line that makes the order's total incl. VAT equal `target` (the basket's
    total), or None when nothing is off or no rounding item is configured."""
    difference = target - expected_total(lines, rules)
    if difference == 0 or rules.rounding_item is None:
        return None
    return NewOrderLine(
        item_id=rules.rounding_item,
        quantity=Decimal(1),
        line_price=difference,
        location_id=location,
        name=ROUNDING_LINE_NAME,
    )


def rackbeat_line_total(line: NewOrderLine) -> Decimal:
    """A line's total as Rackbeat computes it: quantity x price less the discount, to the øre."""
    price = line.line_price or Decimal(0)
    share = 1 - (line.discount_percentage or Decimal(0)) / 100
    return (line.quantity * price * share).quantize(CENTS, ROUND_HALF_UP)


def expected_total(lines: list[NewOrderLine], rules: OrderRules) -> Decimal:
    """The order's total incl. VAT as Rackbeat will show it (every line here carries VAT)."""
    totals = [rackbeat_line_total(line) for line in lines]
    subtotal = sum(totals, Decimal(0))
    if rules.rackbeat_prices_include_vat:
        return subtotal
    rate = rules.vat_percent / 100
    if rules.vat_rounding == "line":
        vat = sum(((t * rate).quantize(CENTS, ROUND_HALF_UP) for t in totals), Decimal(0))
    else:
        vat = (subtotal * rate).quantize(CENTS, ROUND_HALF_UP)
    return subtotal + vat

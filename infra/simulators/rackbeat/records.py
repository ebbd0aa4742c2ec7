"""The Rackbeat simulator's records: plain dataclasses, no HTTP, no JSON.

Money and quantities are `Decimal`. Timestamps are UTC, whole seconds (Rackbeat prints
"2025-01-08 10:30:00").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
CENT = Decimal("0.01")
VAT_ROUNDINGS = ("order", "line")
VariantKey = tuple[int, ...]
"""Sorted option ids picking one variant of a product; `()` for a product without variations."""


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass
class Group:
    number: int
    name: str
    # A named guess (no source): a group whose items carry no domestic VAT, e.g. the
    # "øreafrunding" item of docs/decisions/0014. Real Rackbeat ties VAT to the group's accounts.
    vat_domestic: bool = True
    created_at: datetime = field(default_factory=now)


@dataclass
class Location:
    number: int
    name: str
    is_default: bool = False
    parent_id: int | None = None
    barcode: str | None = None
    created_at: datetime = field(default_factory=now)


@dataclass
class VariationOption:
    id: int
    name: str


@dataclass
class VariationType:
    id: int
    name: str
    options: list[VariationOption]


@dataclass
class Variation:
    """A global variation (e.g. "Clothing") with types (Size, Colour) holding options (M, Red)."""

    id: int
    name: str
    types: list[VariationType]

    def option(self, option_id: int) -> tuple[VariationType, VariationOption] | None:
        for vtype in self.types:
            for option in vtype.options:
                if option.id == option_id:
                    return vtype, option
        return None

    def variant_keys(self) -> list[VariantKey]:
        """Every combination of one option per type (the rows of the variation matrix)."""
        keys: list[VariantKey] = [()]
        for vtype in self.types:
            keys = [(*key, option.id) for key in keys for option in vtype.options]
        return [tuple(sorted(key)) for key in keys]


@dataclass
class Product:
    id: int
    number: str
    name: str
    group_number: int
    sales_price: Decimal
    description: str = ""
    barcode: str | None = None
    cost_price: Decimal = Decimal(0)
    recommended_cost_price: Decimal = Decimal(0)
    variation_id: int | None = None
    default_location_number: int | None = None
    is_barred: bool = False
    has_stock_history: bool = False
    created_at: datetime = field(default_factory=now)
    updated_at: datetime = field(default_factory=now)


@dataclass
class StockLevel:
    stock: Decimal = Decimal(0)
    in_order: Decimal = Decimal(0)
    purchased: Decimal = Decimal(0)

    @property
    def available(self) -> Decimal:
        return self.stock - self.in_order


@dataclass
class Customer:
    number: int
    company_name: str
    extra: dict[str, Any] = field(default_factory=dict)
    created_at: datetime = field(default_factory=now)
    updated_at: datetime = field(default_factory=now)


@dataclass
class OrderLine:
    id: int
    item_number: str
    name: str
    quantity: Decimal
    line_price: Decimal
    discount_percentage: Decimal
    location_number: int
    option_ids: VariantKey = ()

    @property
    def reserved(self) -> Decimal:
        """What booking reserves: credit/return lines (negative) reserve nothing."""
        return max(self.quantity, Decimal(0))

    @property
    def total(self) -> Decimal:
        return money(self.quantity * self.line_price * (1 - self.discount_percentage / 100))


def order_totals(
    lines: list[OrderLine], rate: Decimal, rounding: str, vat_free: set[str]
) -> tuple[Decimal, Decimal, Decimal]:
    """(subtotal, VAT, total) of an order. `rounding` is the simulator's guess at Rackbeat's VAT
    rounding (no source): "order" rounds the VAT of the order's subtotal once, "line" rounds
    each line's VAT. Lines of `vat_free` items carry no VAT."""
    subtotal = sum((line.total for line in lines), Decimal(0))
    taxed = [line.total for line in lines if line.item_number not in vat_free]
    if rounding == "line":
        vat = sum((money(total * rate) for total in taxed), Decimal(0))
    else:
        vat = money(sum(taxed, Decimal(0)) * rate)
    return subtotal, vat, subtotal + vat


@dataclass
class Order:
    number: int
    customer_number: int
    lines: list[OrderLine]
    heading: str | None = None
    their_reference: str | None = None
    our_reference: str | None = None
    currency: str = "DKK"
    vat_zone: str = "domestic"
    order_date: date = field(default_factory=lambda: now().date())
    deliver_at: str | None = None
    note: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    custom_fields: dict[int, Any] = field(default_factory=dict)
    is_booked: bool = False
    booked_at: datetime | None = None
    is_shipped: bool = False
    is_cancelled: bool = False
    created_at: datetime = field(default_factory=now)
    updated_at: datetime = field(default_factory=now)


@dataclass
class Shipment:
    id: int
    order_number: int
    created_at: datetime = field(default_factory=now)


@dataclass
class Adjustment:
    id: int
    item_number: str
    location_number: int
    quantity: Decimal
    relative: bool
    reason: str | None
    description: str | None
    regulated_at: date
    option_ids: VariantKey = ()
    is_booked: bool = False
    booked_at: datetime | None = None
    created_at: datetime = field(default_factory=now)


@dataclass(frozen=True)
class Event:
    """A webhook event the domain raised; the event bus decides whether and where it goes."""

    name: str
    key: str | int
    key_name: str
    data: dict[str, Any]
    old_key: str | int | None = None
    new_key: str | int | None = None
    changed: tuple[str, ...] | None = None

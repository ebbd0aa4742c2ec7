"""Rackbeat's records as the sync reads and writes them: loose read models (money and
quantities as `Decimal`) and strict write bodies. The client is `services.clients.rackbeat`."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    model_validator,
)

M = TypeVar("M", bound=BaseModel)
ZERO = Decimal(0)
MAX_NUMBER_LEN = 25


class RackbeatModel(BaseModel):
    """Read models ignore fields they do not name: Rackbeat sends many more."""

    model_config = ConfigDict(extra="ignore", frozen=True)


# ------------------------------------------------------------------------------------ read models


class Account(RackbeatModel):
    id: int


class LocationRef(RackbeatModel):
    number: int
    name: str | None = None


class Location(LocationRef):
    is_default: bool = False
    parent_id: int | None = None


class ProductGroup(RackbeatModel):
    number: int
    name: str


class Product(RackbeatModel):
    id: int | None = None
    number: str
    urlfriendly_number: str | None = None
    type: str = "product"
    name: str
    description: str | None = None
    barcode: str | None = None
    sales_price: Decimal = ZERO
    cost_price: Decimal | None = None
    stock_quantity: Decimal = ZERO
    in_order_quantity: Decimal = ZERO
    available_quantity: Decimal = ZERO
    purchased_quantity: Decimal = ZERO
    group_id: int | None = None
    group: ProductGroup | None = None
    variation_id: int | None = None
    default_location: LocationRef | None = None
    is_barred: bool = False
    created_at: datetime | None = None
    updated_at: datetime | None = None


class Item(Product):
    """`/items` is the read-only view over every stock item type (products, BOMs)."""


class ItemLocationStock(RackbeatModel):
    """A stock row per location: nested `location{number}` or flat `number` (the real rows seen)."""

    location: LocationRef
    stock_quantity: Decimal = ZERO
    in_order_quantity: Decimal = ZERO
    available_quantity: Decimal = ZERO
    purchased_quantity: Decimal = ZERO

    @model_validator(mode="before")
    @classmethod
    def _flat_location(cls, raw: Any) -> Any:
        if isinstance(raw, dict) and not isinstance(raw.get("location"), dict) and "number" in raw:
            return {**raw, "location": {"number": raw["number"], "name": raw.get("name")}}
        return raw


class LineVariation(RackbeatModel):
    variation_id: int
    option_id: int
    variation_type: str | None = None
    variation_option: str | None = None


class VariantStock(RackbeatModel):
    """A row of `GET /products/{n}/variation-matrix` (shape unknown: the options may be named
    `variations`, as on order lines)."""

    options: list[LineVariation] = Field(validation_alias=AliasChoices("options", "variations"))
    stock_quantity: Decimal = ZERO
    in_order_quantity: Decimal = ZERO
    available_quantity: Decimal = ZERO

    @property
    def option_ids(self) -> tuple[int, ...]:
        return tuple(sorted(option.option_id for option in self.options))


class VariationOption(RackbeatModel):
    id: int
    name: str


class VariationType(RackbeatModel):
    id: int
    name: str
    options: list[VariationOption]


class Variation(RackbeatModel):
    id: int
    name: str
    types: list[VariationType]


class VariationTypeHead(RackbeatModel):
    """A type as listed: its options nested (older shape) or a sub-resource (None)."""

    id: int
    name: str
    options: list[VariationOption] | None = None


class VariationHead(RackbeatModel):
    """A variation as read: its types nested (older shape) or a sub-resource (None)."""

    id: int
    name: str
    types: list[VariationTypeHead] | None = None


class Customer(RackbeatModel):
    number: int
    company_name: str | None = None
    currency: str | None = None
    vat_zone: str | None = None


class OrderLineItem(RackbeatModel):
    number: str
    name: str | None = None


LooseDecimal = Annotated[Decimal, BeforeValidator(lambda v: ZERO if v is None else v)]
"""A number a text line may leave null."""


class OrderLineVariation(RackbeatModel):
    """Loose on purpose: the old swagger has `variation_type`/`variation_option` as `{id, name}`
    objects and both ids optional (docs/api-assumptions.md, R15)."""

    variation_id: int | None = None
    option_id: int | None = None
    variation_type: Any = None
    variation_option: Any = None


class OrderLine(RackbeatModel):
    """A text line has no `item`; real lines also carry the item number as `child_id`."""

    id: int | None = None
    item: OrderLineItem | None = None
    child_id: int | str | None = None
    child_type: str | None = None
    name: str | None = None
    quantity: LooseDecimal = ZERO
    line_price: LooseDecimal = ZERO
    discount_percentage: LooseDecimal = ZERO
    location: LocationRef | None = None
    variations: list[OrderLineVariation] = Field(default_factory=list)

    @property
    def item_number(self) -> str | None:
        if self.item:
            return self.item.number
        return None if self.child_id is None else str(self.child_id)


class OrderCustomer(RackbeatModel):
    number: int
    company_name: str | None = None


class Order(RackbeatModel):
    number: int
    customer: OrderCustomer | None = None
    heading: str | None = None
    their_reference: str | None = None
    is_booked: bool
    is_shipped: bool = False
    is_cancelled: bool = False
    currency: str | None = None
    total_subtotal: Decimal | None = None
    total_total: Decimal | None = None
    order_date: date | None = None
    booked_at: datetime | None = None
    lines: list[OrderLine] = Field(default_factory=list)
    created_at: datetime | None = None
    updated_at: datetime | None = None


class OrderShipment(RackbeatModel):
    id: int


class InventoryAdjustment(RackbeatModel):
    """The answer to an adjustment: read no further than its id and, where sent, its booking
    (real answers are `inventory_regulation{id, lines[]}`, the older simulator's differ)."""

    id: int
    is_booked: bool | None = None


class Webhook(RackbeatModel):
    id: int
    event: str
    url: str
    is_active: bool = True
    failures_since_last_success: int = 0
    token: SecretStr | None = None
    """Only present in the answer that created the webhook."""


# ------------------------------------------------------------------------------------ write models


class WriteModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class VariationPick(WriteModel):
    variation_id: int
    option_id: int


class NewProduct(WriteModel):
    number: str = Field(min_length=1, max_length=MAX_NUMBER_LEN)
    name: str = Field(min_length=1)
    group: int
    sales_price: Decimal = Field(ge=0, description="excluding VAT")
    description: str | None = None
    barcode: str | None = None
    variation_id: int | None = None
    default_location_id: int | None = None


class ProductChanges(WriteModel):
    """Only the fields set are sent (cost price and stock are not writable through PUT)."""

    number: str | None = Field(None, min_length=1, max_length=MAX_NUMBER_LEN)
    name: str | None = Field(None, min_length=1)
    group: int | None = None
    sales_price: Decimal | None = Field(None, ge=0)
    description: str | None = None
    barcode: str | None = None
    is_barred: bool | None = None


class NewOrderLine(WriteModel):
    item_id: str = Field(min_length=1, description="the item number")
    quantity: Decimal = Field(description="negative for credits/returns")
    line_price: Decimal | None = Field(None, description="unit price excluding VAT")
    discount_percentage: Decimal | None = Field(None, ge=0, le=100)
    location_id: int | None = None
    variations: list[VariationPick] = Field(default_factory=list)
    name: str | None = None


class NewOrder(WriteModel):
    customer_id: int = Field(description="the customer number")
    lines: list[NewOrderLine] = Field(min_length=1)
    heading: str | None = None
    their_reference: str | None = None
    currency: str | None = None
    vat_zone: str | None = None
    order_date: date | None = None
    note: str | None = None


class NewInventoryAdjustment(WriteModel):
    """The new stock level of one item (or variant) at one location. Every source sets an
    absolute level; a relative change exists in none, so `relative` can only be False."""

    item_number: str = Field(min_length=1, max_length=MAX_NUMBER_LEN)
    location_number: int
    quantity: Decimal = Field(description="the new level at the location")
    relative: Literal[False] = False
    reason: str | None = None
    description: str | None = None
    regulated_at: date | None = None
    variations: list[VariationPick] = Field(default_factory=list)

"""Rackbeat's domain as the simulator keeps it: products, stock per location and variant,
customers, orders, adjustments. Pure and synchronous; every change that Rackbeat would announce
appends an `Event` to `outbox`, which the HTTP layer flushes (or suppresses) after the call.

Validation collects every field error first and changes nothing when one is found, so a 422
never leaves half-written state behind.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from infra.simulators.rackbeat.records import (
    Adjustment,
    Customer,
    Event,
    Group,
    Location,
    Order,
    OrderLine,
    Product,
    Shipment,
    StockLevel,
    VariantKey,
    Variation,
    VariationOption,
    VariationType,
    now,
    order_totals,
)
from infra.simulators.rackbeat.validation import (
    Errors,
    Missing,
    boolean,
    day,
    integer,
    invalid,
    number,
    text,
)

MAX_NUMBER_LEN = 25
VAT_ZONES = ("domestic", "eu", "abroad")
# What PUT /products refuses: Rackbeat changes these only through purchases and adjustments.
READ_ONLY_PRODUCT_FIELDS = (
    "cost_price",
    "stock_quantity",
    "in_order_quantity",
    "available_quantity",
    "purchased_quantity",
)
PRODUCT_TEXT_FIELDS = ("name", "description", "barcode")


# The item and location keys of an adjustment body, per `adjustment_body` switch value.
ADJUSTMENT_KEYS = {
    "gyt_keys": ("item_id", "location"),
    "swagger_keys": ("item_number", "location_number"),
    "legacy": ("item_number", "location_number"),
}


@dataclass
class StoreSettings:
    auto_book_adjustments: bool = False  # the `adjustment_booking` switch (README)
    adjustment_body: str = "gyt_keys"  # the `adjustment_body` switch (README)
    order_line_shape: str = "swagger"  # the `order_line_shape` switch (README)
    stock_bumps_updated_at: bool = True  # the `stock_bumps_updated_at` switch (README)
    vat_rate_domestic: Decimal = Decimal("0.25")
    # How VAT is rounded ("order" or "line", see `records.order_totals`): unknown for the real
    # Rackbeat, so a switch that tests run both ways.
    vat_rounding: str = "order"
    currency: str = "DKK"


@dataclass
class Store:
    settings: StoreSettings = field(default_factory=StoreSettings)
    groups: dict[int, Group] = field(default_factory=dict)
    locations: dict[int, Location] = field(default_factory=dict)
    variations: dict[int, Variation] = field(default_factory=dict)
    products: dict[str, Product] = field(default_factory=dict)
    stock: dict[tuple[str, int, VariantKey], StockLevel] = field(default_factory=dict)
    # item number -> its keys in `stock`: totals per item without scanning every row (a
    # 10,000-product shop made each product read O(catalogue)).
    _stock_keys: dict[str, set[tuple[str, int, VariantKey]]] = field(default_factory=dict)
    customers: dict[int, Customer] = field(default_factory=dict)
    orders: dict[int, Order] = field(default_factory=dict)
    shipments: list[Shipment] = field(default_factory=list)
    adjustments: dict[int, Adjustment] = field(default_factory=dict)
    outbox: list[Event] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _order_numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1001))

    def next_id(self) -> int:
        return next(self._ids)

    def drain(self) -> list[Event]:
        events, self.outbox = self.outbox, []
        return events

    # ----------------------------------------------------------------------------- lookups

    def product(self, number: str) -> Product:
        found = self.products.get(number)
        if found is None:
            raise Missing(f"Product {number} not found.")
        return found

    def customer(self, number: int) -> Customer:
        found = self.customers.get(number)
        if found is None:
            raise Missing(f"Customer {number} not found.")
        return found

    def order(self, number: int) -> Order:
        found = self.orders.get(number)
        if found is None:
            raise Missing(f"Order {number} not found.")
        return found

    def default_location(self) -> Location:
        defaults = [loc for loc in self.locations.values() if loc.is_default]
        if defaults:
            return defaults[0]
        return self.locations[min(self.locations)]

    def level(self, item: str, location: int, key: VariantKey = ()) -> StockLevel:
        row_key = (item, location, key)
        if row_key not in self.stock:
            self.stock[row_key] = StockLevel()
            self._stock_keys.setdefault(item, set()).add(row_key)
        return self.stock[row_key]

    def order_totals(self, order: Order) -> tuple[Decimal, Decimal, Decimal]:
        """(subtotal, VAT, total incl. VAT) as the order's JSON shows them."""
        domestic = order.vat_zone == "domestic"
        rate = self.settings.vat_rate_domestic if domestic else Decimal(0)
        vat_free = {line.item_number for line in order.lines if not self._vat_liable(line)}
        return order_totals(order.lines, rate, self.settings.vat_rounding, vat_free)

    def _vat_liable(self, line: OrderLine) -> bool:
        product = self.products.get(line.item_number)
        group = self.groups.get(product.group_number) if product else None
        return group.vat_domestic if group else True

    def totals(
        self, item: str, *, location: int | None = None, key: VariantKey | None = None
    ) -> StockLevel:
        """Sum of stock rows for an item, optionally one location and/or one variant."""
        total = StockLevel()
        for row_key in self._stock_keys.get(item, ()):
            _, loc, variant = row_key
            if location not in (None, loc) or key not in (None, variant):
                continue
            row = self.stock[row_key]
            total.stock += row.stock
            total.in_order += row.in_order
            total.purchased += row.purchased
        return total

    # ----------------------------------------------------------------------------- products

    def create_product(self, body: dict[str, Any]) -> Product:
        errors = Errors()
        number_ = self._product_number(body, errors, current=None)
        name = text(body, "name", errors, required=True)
        group = integer(body, "group", errors, required=True)
        if group is not None and group not in self.groups:
            errors.add("group", "The selected group is invalid.")
        price = number(body, "sales_price", errors, minimum=Decimal(0))
        recommended_cost = number(body, "recommended_cost_price", errors, minimum=Decimal(0))
        variation_id = self._variation_id(body, errors)
        location = self._location_number(body, "default_location_id", errors)
        opening = number(body, "stock_quantity", errors)
        description = text(body, "description", errors, max_len=65535)
        barcode = text(body, "barcode", errors)
        is_barred = boolean(body, "is_barred", errors, default=False)
        errors.raise_if_any()
        assert number_ is not None
        assert name is not None
        assert group is not None
        product = Product(
            id=self.next_id(),
            number=number_,
            name=name,
            group_number=group,
            sales_price=price or Decimal(0),
            description=description or "",
            barcode=barcode,
            recommended_cost_price=recommended_cost or Decimal(0),
            variation_id=variation_id,
            default_location_number=location,
            is_barred=is_barred,
        )
        self.products[product.number] = product
        if opening:  # the create body may carry opening stock (RB-TOOLS import does)
            loc = location or self.default_location().number
            self.level(product.number, loc).stock += opening
            product.has_stock_history = True
        self.outbox.append(
            Event(
                "product.created",
                product.number,
                "number",
                {"number": product.number, "id": product.id},
            )
        )
        return product

    def update_product(self, number_: str, body: dict[str, Any]) -> Product:
        product = self.product(number_)
        errors = Errors()
        for key in READ_ONLY_PRODUCT_FIELDS:
            if key in body:
                errors.add(key, f"The {key} can only be changed through purchases or adjustments.")
        new_number = (
            self._product_number(body, errors, current=product) if "number" in body else None
        )
        if "name" in body:
            text(body, "name", errors, required=True)
        if "group" in body:
            group = integer(body, "group", errors, required=True)
            if group is not None and group not in self.groups:
                errors.add("group", "The selected group is invalid.")
        if "sales_price" in body:
            number(body, "sales_price", errors, required=True, minimum=Decimal(0))
        if "recommended_cost_price" in body:
            number(body, "recommended_cost_price", errors, minimum=Decimal(0))
        for key in ("description", "barcode"):
            text(body, key, errors, max_len=65535)
        if "variation_id" in body:
            self._variation_id(body, errors)
        if "default_location_id" in body:
            self._location_number(body, "default_location_id", errors)
        if "is_barred" in body:
            boolean(body, "is_barred", errors, default=product.is_barred)
        errors.raise_if_any()
        return self._apply_product_changes(product, body, new_number)

    def _apply_product_changes(
        self, product: Product, body: dict[str, Any], new_number: str | None
    ) -> Product:
        before = self._product_fields(product)
        old_number = product.number
        for key in PRODUCT_TEXT_FIELDS:
            if key in body:
                setattr(product, key, body[key] if body[key] is not None else "")
        if "group" in body:
            product.group_number = int(body["group"])
        if "sales_price" in body:
            product.sales_price = Decimal(str(body["sales_price"]))
        if "recommended_cost_price" in body:
            product.recommended_cost_price = Decimal(str(body["recommended_cost_price"]))
        if "variation_id" in body:
            product.variation_id = int(body["variation_id"]) if body["variation_id"] else None
        if "default_location_id" in body:
            value = body["default_location_id"]
            product.default_location_number = int(value) if value else None
        if "is_barred" in body:
            product.is_barred = boolean(body, "is_barred", Errors(), default=product.is_barred)
        if new_number is not None and new_number != old_number:
            self._renumber(product, new_number)
        changed = tuple(k for k, v in self._product_fields(product).items() if before[k] != v)
        if changed:
            product.updated_at = now()
            self.outbox.append(
                Event(
                    "product.updated",
                    product.number,
                    "number",
                    {"number": product.number, "id": product.id},
                    old_key=old_number,
                    new_key=product.number,
                    changed=changed,
                )
            )
        return product

    def delete_product(self, number_: str) -> None:
        product = self.product(number_)
        if product.has_stock_history:
            raise invalid("number", "The product cannot be deleted: stock has been registered.")
        del self.products[product.number]
        self.outbox.append(
            Event(
                "product.deleted",
                product.number,
                "number",
                {"number": product.number, "id": product.id},
            )
        )

    def _product_fields(self, product: Product) -> dict[str, Any]:
        return {
            "number": product.number,
            "name": product.name,
            "description": product.description,
            "barcode": product.barcode,
            "sales_price": product.sales_price,
            "recommended_cost_price": product.recommended_cost_price,
            "group": product.group_number,
            "variation_id": product.variation_id,
            "default_location_id": product.default_location_number,
            "is_barred": product.is_barred,
        }

    def _renumber(self, product: Product, new_number: str) -> None:
        """Rackbeat lines point at the item, so a renamed number follows into stock and lines."""
        old = product.number
        del self.products[old]
        product.number = new_number
        self.products[new_number] = product
        for item, loc, key in self._stock_keys.pop(old, set()):
            self.stock[(new_number, loc, key)] = self.stock.pop((item, loc, key))
            self._stock_keys.setdefault(new_number, set()).add((new_number, loc, key))
        for order in self.orders.values():
            for line in order.lines:
                if line.item_number == old:
                    line.item_number = new_number

    def _product_number(
        self, body: dict[str, Any], errors: Errors, current: Product | None
    ) -> str | None:
        value = text(body, "number", errors, required=True, max_len=MAX_NUMBER_LEN)
        if value is not None and value in self.products and self.products[value] is not current:
            errors.add("number", "The number has already been taken.")
            return None
        return value

    def _variation_id(self, body: dict[str, Any], errors: Errors) -> int | None:
        variation_id = integer(body, "variation_id", errors)
        if variation_id is not None and variation_id not in self.variations:
            errors.add("variation_id", "The selected variation id is invalid.")
        return variation_id

    def _location_number(
        self, body: dict[str, Any], key: str, errors: Errors, path: str | None = None
    ) -> int | None:
        path = path or key
        location = integer(body, key, errors, path=path)
        if location is not None and location not in self.locations:
            errors.add(path, f"The selected {path} is invalid.")
            return None
        return location

    # ----------------------------------------------------------------------------- variants

    def variant_key(
        self, product: Product | None, raw: Any, path: str, errors: Errors
    ) -> VariantKey:
        """Validate `variations: [{variation_id, option_id}]` against the product's variation.

        A product with a variation needs exactly one option per variation type; one without
        takes none.
        """
        picks = raw if raw is not None else []
        if not isinstance(picks, list):
            errors.add(path, f"The {path} must be an array.")
            return ()
        if product is None:
            return ()
        variation = self.variations.get(product.variation_id or -1)
        if variation is None:
            if picks:
                errors.add(path, f"The product {product.number} has no variations.")
            return ()
        chosen: dict[int, int] = {}
        for j, pick in enumerate(picks):
            pick_path = f"{path}.{j}"
            if not isinstance(pick, dict):
                errors.add(pick_path, f"The {pick_path} must be an object.")
                continue
            variation_id = integer(pick, "variation_id", errors, path=f"{pick_path}.variation_id")
            if variation_id is not None and variation_id != variation.id:
                errors.add(
                    f"{pick_path}.variation_id",
                    f"The selected {pick_path}.variation_id is invalid.",
                )
            option_id = integer(
                pick, "option_id", errors, path=f"{pick_path}.option_id", required=True
            )
            found = variation.option(option_id) if option_id is not None else None
            if option_id is not None and found is None:
                errors.add(
                    f"{pick_path}.option_id", f"The selected {pick_path}.option_id is invalid."
                )
            elif found is not None and option_id is not None:
                chosen[found[0].id] = option_id
        if not errors and len(chosen) != len(variation.types):
            names = ", ".join(t.name for t in variation.types)
            errors.add(path, f"Choose one option for each variation type ({names}).")
        return tuple(sorted(chosen.values()))

    def create_variation(self, body: dict[str, Any], *, nested: bool) -> Variation:
        """`POST /variations`: `{name}` (the old swagger's VariationForm; types and options are
        then added as sub-resources), or with `nested` the older simulator's body with types."""
        errors = Errors()
        name = text(body, "name", errors, required=True)
        types = self._nested_types(body, errors) if nested else []
        errors.raise_if_any()
        variation = Variation(self.next_id(), name or "", types)
        self.variations[variation.id] = variation
        return variation

    def _nested_types(self, body: dict[str, Any], errors: Errors) -> list[VariationType]:
        types_raw = body.get("types")
        if not isinstance(types_raw, list) or not types_raw:
            errors.add("types", "The types field is required.")
            types_raw = []
        types: list[VariationType] = []
        for i, raw in enumerate(types_raw):
            raw = raw if isinstance(raw, dict) else {}
            type_name = text(raw, "name", errors, path=f"types.{i}.name", required=True)
            options_raw = raw.get("options")
            if not isinstance(options_raw, list) or not options_raw:
                errors.add(f"types.{i}.options", f"The types.{i}.options field is required.")
                continue
            options = []
            for j, option in enumerate(options_raw):
                option = option if isinstance(option, dict) else {"name": option}
                option_name = text(
                    option, "name", errors, path=f"types.{i}.options.{j}.name", required=True
                )
                options.append(VariationOption(self.next_id(), option_name or ""))
            types.append(VariationType(self.next_id(), type_name or "", options))
        return types

    def variation(self, variation_id: int) -> Variation:
        found = self.variations.get(variation_id)
        if found is None:
            raise Missing("Variation not found.")
        return found

    def variation_type(self, variation_id: int, type_id: int) -> VariationType:
        variation = self.variations.get(variation_id)
        vtype = next((t for t in variation.types if t.id == type_id), None) if variation else None
        if vtype is None:
            raise Missing(f"Variation type {type_id} of variation {variation_id} not found.")
        return vtype

    def add_variation_type(self, variation_id: int, body: dict[str, Any]) -> VariationType:
        """`POST /variations/{id}/types {name}` (path from the old swagger; body a guess)."""
        variation = self.variation(variation_id)
        errors = Errors()
        name = text(body, "name", errors, required=True)
        if name is not None and any(t.name == name for t in variation.types):
            errors.add("name", "The name has already been taken.")
        errors.raise_if_any()
        vtype = VariationType(self.next_id(), name or "", [])
        variation.types.append(vtype)
        return vtype

    def add_variation_option(
        self, variation_id: int, type_id: int, body: dict[str, Any]
    ) -> VariationOption:
        """`POST /variations/{id}/types/{type}/options {name}` (path from KG; body a guess)."""
        vtype = self.variation_type(variation_id, type_id)
        errors = Errors()
        name = text(body, "name", errors, required=True)
        if name is not None and any(o.name == name for o in vtype.options):
            errors.add("name", "The name has already been taken.")
        errors.raise_if_any()
        option = VariationOption(self.next_id(), name or "")
        vtype.options.append(option)
        return option

    # ----------------------------------------------------------------------------- stock

    def adjust(self, body: dict[str, Any]) -> Adjustment:
        """POST /inventory-adjustments in the key style the `adjustment_body` switch names."""
        style = self.settings.adjustment_body
        item_key, location_key = ADJUSTMENT_KEYS[style]
        errors = Errors()
        item = text(body, item_key, errors, required=True, max_len=MAX_NUMBER_LEN)
        product = self.products.get(item or "")
        if item is not None and product is None:
            errors.add(item_key, f"The selected {item_key} is invalid.")
        location = self._location_number(body, location_key, errors)
        if location is None and location_key not in errors.by_field:
            errors.add(location_key, f"The {location_key} field is required.")
        quantity = number(body, "quantity", errors, required=True)
        # Only the old simulator knew a relative flag; every source sends the new level.
        relative = style == "legacy" and boolean(body, "relative", errors, default=True)
        key = self.variant_key(product, body.get("variations"), "variations", errors)
        required = style != "legacy"
        regulated_at = day(body, "regulated_at", errors)
        if regulated_at is None and required:
            errors.add("regulated_at", "The regulated at field is required.")
        reason = text(body, "reason", errors, required=required)
        description = text(body, "description", errors, max_len=65535)
        if style == "swagger_keys":
            text(body, "item_type", errors, required=True)
        errors.raise_if_any()
        assert item is not None
        assert location is not None
        assert quantity is not None
        if style != "legacy" and self.level(item, location, key).stock == quantity:
            raise invalid("quantity", "Adjustment can't be created, since no change is made.")
        adjustment = Adjustment(
            id=self.next_id(),
            item_number=item,
            location_number=location,
            quantity=quantity,
            relative=relative,
            reason=reason,
            description=description,
            regulated_at=regulated_at or now().date(),
            option_ids=key,
        )
        self.adjustments[adjustment.id] = adjustment
        if self.settings.auto_book_adjustments or boolean(body, "book", Errors(), default=False):
            self.book_adjustment(adjustment.id)
        return adjustment

    def book_adjustment(self, adjustment_id: int) -> Adjustment:
        adjustment = self.adjustments.get(adjustment_id)
        if adjustment is None:
            raise Missing(f"Inventory adjustment {adjustment_id} not found.")
        if adjustment.is_booked:
            raise invalid("adjustment", "The adjustment is already booked.")
        level = self.level(
            adjustment.item_number, adjustment.location_number, adjustment.option_ids
        )
        level.stock = (
            level.stock + adjustment.quantity if adjustment.relative else adjustment.quantity
        )
        adjustment.is_booked = True
        adjustment.booked_at = now()
        self._stock_touched(
            adjustment.item_number,
            [adjustment.location_number],
            "adjustment",
            f"inventory_adjustment:{adjustment.id}",
        )
        return adjustment

    def set_stock(
        self,
        item: str,
        location: int,
        key: VariantKey,
        *,
        delta: Decimal | None,
        absolute: Decimal | None,
    ) -> StockLevel:
        """Control-surface stock change (a purchase receipt, a count): fires inventory.changed."""
        self.product(item)
        if location not in self.locations:
            raise invalid("location_number", "The selected location number is invalid.")
        level = self.level(item, location, key)
        if absolute is not None:
            level.stock = absolute
        if delta is not None:
            level.stock += delta
        self._stock_touched(item, [location], "control", None)
        return level

    def _stock_touched(
        self, item: str, locations: Iterable[int], cause: str, reference: str | None
    ) -> None:
        product = self.products.get(item)
        if product is not None:
            product.has_stock_history = True
            if self.settings.stock_bumps_updated_at:
                product.updated_at = now()
        touched = sorted(set(locations))
        self.outbox.append(
            Event(
                "inventory.changed",
                item,
                "number",
                {
                    "number": item,
                    "item_number": item,
                    "locations": [
                        {"number": n, "name": self.locations[n].name}
                        for n in touched
                        if n in self.locations
                    ],
                    "cause": cause,
                    "reference": reference,
                },
            )
        )

    # ----------------------------------------------------------------------------- customers

    def create_customer(self, body: dict[str, Any]) -> Customer:
        errors = Errors()
        name = text(body, "company_name", errors) or text(body, "name", errors)
        if name is None:
            errors.add("company_name", "The company name field is required.")
        wanted = integer(body, "number", errors)
        if wanted is not None and wanted in self.customers:
            errors.add("number", "The number has already been taken.")
        errors.raise_if_any()
        number_ = wanted if wanted is not None else max(self.customers, default=0) + 1
        extra = {k: v for k, v in body.items() if k not in {"company_name", "name", "number"}}
        customer = Customer(number_, name or "", extra)
        self.customers[number_] = customer
        return customer

    # ----------------------------------------------------------------------------- orders

    def create_order(self, body: dict[str, Any], *, booked: bool) -> Order:
        errors = Errors()
        customer = integer(body, "customer_id", errors, required=True)
        if customer is not None and customer not in self.customers:
            errors.add("customer_id", "The selected Customer is invalid.")
        raw_lines = body.get("lines")
        if not isinstance(raw_lines, list) or not raw_lines:
            errors.add("lines", "The lines field is required.")
            raw_lines = []
        lines = [self._order_line(i, raw, errors) for i, raw in enumerate(raw_lines)]
        heading = text(body, "heading", errors)
        their_reference = text(body, "their_reference", errors)
        our_reference = text(body, "our_reference", errors)
        currency = text(body, "currency", errors, max_len=3) or self.settings.currency
        vat_zone = text(body, "vat_zone", errors) or "domestic"
        if vat_zone not in VAT_ZONES:
            errors.add("vat_zone", "The selected vat zone is invalid.")
        order_date = day(body, "order_date", errors) or now().date()
        deliver_at = text(body, "deliver_at", errors)
        note = text(body, "note", errors, max_len=65535)
        errors.raise_if_any()
        assert customer is not None
        known = {
            "customer_id",
            "lines",
            "heading",
            "their_reference",
            "our_reference",
            "currency",
            "vat_zone",
            "order_date",
            "deliver_at",
            "note",
            "suppress_webhooks",
        }
        order = Order(
            number=next(self._order_numbers),
            customer_number=customer,
            lines=[line for line in lines if line is not None],
            heading=heading,
            their_reference=their_reference,
            our_reference=our_reference,
            currency=currency.upper(),
            vat_zone=vat_zone,
            order_date=order_date,
            deliver_at=deliver_at,
            note=note,
            extra={k: v for k, v in body.items() if k not in known},
        )
        self.orders[order.number] = order
        self.outbox.append(Event("order.created", order.number, "number", self._order_data(order)))
        if booked:
            self.book_order(order.number)
        return order

    def _order_line(self, i: int, raw: Any, errors: Errors) -> OrderLine | None:
        path = f"lines.{i}"
        if not isinstance(raw, dict):
            errors.add(path, f"The {path} must be an object.")
            return None
        item = raw.get("item_id")
        product = self.products.get(str(item)) if item not in (None, "") else None
        if product is None:
            errors.add(f"{path}.item_id", "Product needed")
        quantity = number(raw, "quantity", errors, path=f"{path}.quantity", required=True)
        if quantity == 0:
            errors.add(f"{path}.quantity", f"The {path}.quantity may not be 0.")
        price = number(raw, "line_price", errors, path=f"{path}.line_price")
        discount = number(
            raw,
            "discount_percentage",
            errors,
            path=f"{path}.discount_percentage",
            minimum=Decimal(0),
            maximum=Decimal(100),
        )
        location = self._location_number(raw, "location_id", errors, path=f"{path}.location_id")
        key = self.variant_key(product, raw.get("variations"), f"{path}.variations", errors)
        name = text(raw, "name", errors, path=f"{path}.name")
        if product is None or quantity is None:
            return None
        return OrderLine(
            id=self.next_id(),
            item_number=product.number,
            name=name or product.name,
            quantity=quantity,
            line_price=price if price is not None else product.sales_price,
            discount_percentage=discount or Decimal(0),
            location_number=location
            or product.default_location_number
            or self.default_location().number,
            option_ids=key,
        )

    def book_order(self, number_: int) -> Order:
        order = self.order(number_)
        if order.is_booked:
            raise invalid("order", "The order is already booked.")
        if order.is_cancelled:
            raise invalid("order", "A cancelled order cannot be booked.")
        for line in order.lines:
            self.level(
                line.item_number, line.location_number, line.option_ids
            ).in_order += line.reserved
        order.is_booked = True
        order.booked_at = order.updated_at = now()
        self.outbox.append(Event("order.booked", order.number, "number", self._order_data(order)))
        self._order_stock_events(order, "order.booked")
        return order

    def ship_order(self, number_: int) -> Shipment:
        order = self.order(number_)
        if not order.is_booked:
            raise invalid("order", "Only booked orders can be shipped.")
        if order.is_shipped or order.is_cancelled:
            raise invalid("order", "The order is already shipped or cancelled.")
        for line in order.lines:
            level = self.level(line.item_number, line.location_number, line.option_ids)
            level.stock -= line.quantity  # a negative (return) line puts stock back
            level.in_order -= line.reserved
        order.is_shipped = True
        order.updated_at = now()
        shipment = Shipment(self.next_id(), order.number)
        self.shipments.append(shipment)
        self._order_stock_events(order, "order.shipped")
        return shipment

    def cancel_order(self, number_: int) -> Order:
        order = self.order(number_)
        if order.is_shipped:
            raise invalid("order", "A shipped order cannot be cancelled.")
        if order.is_cancelled:
            raise invalid("order", "The order is already cancelled.")
        if order.is_booked:
            for line in order.lines:
                self.level(
                    line.item_number, line.location_number, line.option_ids
                ).in_order -= line.reserved
            self._order_stock_events(order, "order.cancelled")
        order.is_cancelled = True
        order.updated_at = now()
        return order

    def delete_order(self, number_: int) -> None:
        order = self.order(number_)
        if order.is_booked:
            raise invalid("order", "Only draft orders can be deleted.")
        del self.orders[order.number]

    def set_order_fields(self, number_: int, body: dict[str, Any]) -> Order:
        order = self.order(number_)
        errors = Errors()
        fields = body.get("custom_fields")
        if not isinstance(fields, list):
            errors.add("custom_fields", "The custom fields must be an array.")
            fields = []
        parsed: dict[int, Any] = {}
        for i, raw in enumerate(fields):
            raw = raw if isinstance(raw, dict) else {}
            field_id = integer(raw, "id", errors, path=f"custom_fields.{i}.id", required=True)
            if field_id is not None:
                parsed[field_id] = raw.get("value")
        errors.raise_if_any()
        order.custom_fields.update(parsed)
        order.updated_at = now()
        return order

    def _order_stock_events(self, order: Order, cause: str) -> None:
        by_item: dict[str, set[int]] = {}
        for line in order.lines:
            by_item.setdefault(line.item_number, set()).add(line.location_number)
        for item, locations in by_item.items():
            self._stock_touched(item, locations, cause, f"order:{order.number}")

    def _order_data(self, order: Order) -> dict[str, Any]:
        return {"number": order.number, "heading": order.heading, "is_booked": order.is_booked}

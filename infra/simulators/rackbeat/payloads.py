"""JSON shapes the simulator answers with, named as in reference/apis.md §1.

Field lists follow the documented GET responses (SYNC-CS product, RB-SDK order, RB-SDK location);
fields the simulator has no behaviour for carry neutral defaults so clients see the full shape.
Money and quantities are JSON numbers, as Rackbeat sends them.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from infra.simulators.rackbeat.records import (
    TIME_FORMAT,
    Adjustment,
    Customer,
    Group,
    Location,
    Order,
    OrderLine,
    Product,
    Shipment,
    StockLevel,
    VariantKey,
    Variation,
    money,
)
from infra.simulators.rackbeat.store import Store

Json = dict[str, Any]


def num(value: Decimal) -> float | int:
    return int(value) if value == value.to_integral_value() else float(value)


def ts(value: datetime | None) -> str | None:
    return value.strftime(TIME_FORMAT) if value else None


def urlfriendly(number: str) -> str:
    return quote(number, safe="")


def group_json(group: Group, base: str) -> Json:
    return {
        "number": group.number,
        "name": group.name,
        "vat_abroad": False,
        "vat_eu": False,
        "vat_domestic": group.vat_domestic,
        "vat_domestic_exempt": False,
        "self": f"{base}/product-groups/{group.number}",
    }


def location_json(location: Location, store: Store, base: str) -> Json:
    children = [loc for loc in store.locations.values() if loc.parent_id == location.number]
    return {
        "number": location.number,
        "name": location.name,
        "is_default": location.is_default,
        "parent_id": location.parent_id,
        "barcode": location.barcode,
        "children_count": len(children),
        "toplevel_parent_id": location.parent_id or location.number,
        "nesting_level": 0 if location.parent_id is None else 1,
        "nest_list": [location.parent_id] if location.parent_id else [],
        "created_at": ts(location.created_at),
        "updated_at": ts(location.created_at),
        "self": f"{base}/locations/{location.number}",
    }


def quantities(level: StockLevel) -> Json:
    return {
        "stock_quantity": num(level.stock),
        "in_order_quantity": num(level.in_order),
        "purchased_quantity": num(level.purchased),
        "available_quantity": num(level.available),
    }


def product_json(product: Product, store: Store, base: str, *, item_type: str = "product") -> Json:
    group = store.groups.get(product.group_number)
    location = store.locations.get(product.default_location_number or 0) or (
        store.default_location() if store.locations else None
    )
    sales, cost = product.sales_price, product.cost_price
    return {
        "id": product.id,
        "number": product.number,
        "urlfriendly_number": urlfriendly(product.number),
        "type": item_type,
        "barcode": product.barcode,
        "name": product.name,
        "description": product.description,
        "sales_price": num(money(sales)),
        "recommended_sales_price": num(money(sales)),
        "sales_profit": num(money(sales - cost)),
        "cost_price": num(money(cost)),
        "recommended_cost_price": num(money(product.recommended_cost_price)),
        "cost_addition_percentage": 0,
        "min_order": 0,
        "min_sales": 0,
        "min_stock": 0,
        **quantities(store.totals(product.number)),
        "used_in_production_quantity": 0,
        "default_supplier_id": None,
        "default_location": location_json(location, store, base) if location else None,
        "picture_url": None,
        "pictures": {"thumb": None, "display": None, "large": None, "original": None},
        "is_barred": product.is_barred,
        "is_convertable": not product.has_stock_history,
        "inventory_enabled": True,
        "should_assure_quality": False,
        "group_id": product.group_number,
        "group": group_json(group, base) if group else None,
        "variation_id": product.variation_id,
        "physical": {
            "weight": 0,
            "weight_unit": "kg",
            "height": 0,
            "width": 0,
            "depth": 0,
            "size_unit": "cm",
        },
        "serial_numbers": {"is_active": False, "index": 0},
        "batch_control": {"is_active": False},
        "created_at": ts(product.created_at),
        "updated_at": ts(product.updated_at),
        "deleted_at": None,
        "pdf_url": None,
        "department_id": None,
        "goods_code": None,
        "country_code": None,
        "self": f"{base}/products/{urlfriendly(product.number)}",
    }


def item_location_json(store: Store, number: str, location: Location, flat: bool) -> Json:
    """One stock-per-location row: flat (`number`, `name` at the top, as the only real rows seen)
    or the older simulator's nested `location{number, name}`."""
    where: Json = {"number": location.number, "name": location.name}
    return {
        **(where if flat else {"location": where}),
        "item_number": number,
        **quantities(store.totals(number, location=location.number)),
    }


def variation_json(variation: Variation) -> Json:
    return {
        "id": variation.id,
        "name": variation.name,
        "types": [
            {
                "id": t.id,
                "name": t.name,
                "options": [{"id": o.id, "name": o.name} for o in t.options],
            }
            for t in variation.types
        ],
    }


def line_variations(store: Store, product: Product | None, key: VariantKey) -> list[Json]:
    variation = store.variations.get(product.variation_id or -1) if product else None
    if variation is None:
        return []
    picks = []
    for option_id in key:
        found = variation.option(option_id)
        if found:
            vtype, option = found
            picks.append(
                {
                    "variation_id": variation.id,
                    "option_id": option.id,
                    "variation_type": vtype.name,
                    "variation_option": option.name,
                    "type_id": vtype.id,
                }
            )
    return picks


def variation_matrix_json(store: Store, product: Product, location: int | None) -> Json:
    """Per-variant stock (INVENTED shape: the real one is UNCONFIRMED, see README)."""
    variation = store.variations.get(product.variation_id or -1)
    rows = []
    for key in variation.variant_keys() if variation else []:
        rows.append(
            {
                "options": line_variations(store, product, key),
                **quantities(store.totals(product.number, location=location, key=key)),
            }
        )
    return {
        "product_number": product.number,
        "variation_id": product.variation_id,
        "location_id": location,
        "variants": rows,
    }


def variation_matrix_html(matrix: Json) -> str:
    """The `variation_matrix_shape=html` variant: a table, as `html=true` gives."""
    cells = "".join(
        "<tr><td>{}</td><td>{}</td></tr>".format(
            " / ".join(str(o["variation_option"]) for o in row["options"]), row["stock_quantity"]
        )
        for row in matrix["variants"]
    )
    return f"<table class='variation-matrix'>{cells}</table>"


def order_line_json(store: Store, line: OrderLine) -> Json:
    body = flat_line_json(store, line)
    if store.settings.order_line_shape == "flat":
        return body
    body |= {"child_id": line.item_number, "child_type": "product", "vat_percentage": 25}
    body["variations"] = [
        {
            **pick,
            "variation_type": {"id": pick.get("type_id"), "name": pick["variation_type"]},
            "variation_option": {"id": pick["option_id"], "name": pick["variation_option"]},
        }
        for pick in body["variations"]
    ]
    return body


def text_line_json() -> Json:
    """A text line: no item (strict `order_line_shape`)."""
    return {
        "id": None,
        "item_id": None,
        "item": None,
        "child_id": None,
        "child_type": None,
        "name": "Tekst fra butikken",
        "quantity": None,
        "line_price": None,
        "variations": [],
    }


def flat_line_json(store: Store, line: OrderLine) -> Json:
    product = store.products.get(line.item_number)
    location = store.locations.get(line.location_number)
    picks = line_variations(store, product, line.option_ids)
    return {
        "id": line.id,
        "item_id": line.item_number,
        "item": {
            "number": line.item_number,
            "name": product.name if product else line.name,
            "barcode": product.barcode if product else None,
        },
        "name": line.name,
        "quantity": num(line.quantity),
        "line_price": num(line.line_price),
        "discount_percentage": num(line.discount_percentage),
        "line_total": num(line.total),
        "location_id": line.location_number,
        "location": {"number": location.number, "name": location.name} if location else None,
        "unit": {"name": "stk."},
        "variations": picks,
        "variations_formatted": ", ".join(
            f"{p['variation_type']}: {p['variation_option']}" for p in picks
        ),
    }


def order_json(store: Store, order: Order, base: str) -> Json:
    customer = store.customers.get(order.customer_number)
    subtotal, vat, total = store.order_totals(order)
    shipped = order.is_shipped
    return {
        "number": order.number,
        "id": order.number,
        "customer_id": order.customer_number,
        "customer": {
            "number": order.customer_number,
            "company_name": customer.company_name if customer else None,
        },
        "heading": order.heading,
        "their_reference": order.their_reference,
        "our_reference": order.our_reference,
        "is_archived": False,
        "is_booked": order.is_booked,
        "is_cancelled": order.is_cancelled,
        "is_shipped": shipped,
        "is_ready_for_shipping": order.is_booked and not shipped,
        "is_partly_shipped": False,
        "is_ready_for_invoicing": shipped,
        "is_invoiced": False,
        "is_partly_invoiced": False,
        "is_paid": False,
        "is_partly_paid": False,
        "billing_address": order.extra.get("billing_address", {}),
        "delivery_address": order.extra.get("delivery_address", {}),
        "deliver_at": order.deliver_at,
        "booked_at": ts(order.booked_at),
        "order_date": order.order_date.isoformat(),
        "due_date": order.order_date.isoformat(),
        "currency": order.currency,
        "currency_rate": 100,
        "vat_zone": order.vat_zone,
        "total_subtotal": num(subtotal),
        "total_vat": num(vat),
        "total_total": num(total),
        "note": order.note,
        "lines": [order_line_json(store, line) for line in order.lines]
        + ([text_line_json()] if store.settings.order_line_shape == "swagger_text_lines" else []),
        "field_values": [{"field_id": k, "value": v} for k, v in order.custom_fields.items()],
        "created_at": ts(order.created_at),
        "updated_at": ts(order.updated_at),
        "self": f"{base}/orders/{order.number}",
    }


def shipment_json(store: Store, shipment: Shipment) -> Json:
    order = store.orders[shipment.order_number]
    return {
        "id": shipment.id,
        "order_number": order.number,
        "lines": [
            {
                "item_number": line.item_number,
                "quantity": num(line.quantity),
                "location_id": line.location_number,
            }
            for line in order.lines
        ],
        "created_at": ts(shipment.created_at),
    }


def customer_json(customer: Customer, base: str) -> Json:
    defaults: Json = {
        "company_vat": None,
        "address_street": None,
        "address_street2": None,
        "attention": None,
        "max_credit": None,
        "employee_id": None,
        "address_city": None,
        "address_zipcode": None,
        "address_country": None,
        "contact_email": None,
        "contact_phone": None,
        "locale": "da",
        "ean": None,
        "our_reference": None,
        "their_reference": None,
        "payment_terms_id": 1,
        "general_discount_percentage": 0,
        "vat_zone": "domestic",
        "currency": "DKK",
        "is_barred": False,
    }
    return {
        **defaults,
        **customer.extra,
        "number": customer.number,
        "company_name": customer.company_name,
        "name": customer.company_name,
        "created_at": ts(customer.created_at),
        "updated_at": ts(customer.updated_at),
        "self": f"{base}/customers/{customer.number}",
    }


def adjustment_json(adjustment: Adjustment, store: Store) -> Json:
    product = store.products.get(adjustment.item_number)
    return {
        "id": adjustment.id,
        "item_type": "product",
        "item_number": adjustment.item_number,
        "location_number": adjustment.location_number,
        "quantity": num(adjustment.quantity),
        "relative": adjustment.relative,
        "reason": adjustment.reason,
        "description": adjustment.description,
        "regulated_at": adjustment.regulated_at.isoformat(),
        "variations": line_variations(store, product, adjustment.option_ids),
        "is_booked": adjustment.is_booked,
        "booked_at": ts(adjustment.booked_at),
        "created_at": ts(adjustment.created_at),
    }


def regulation_json(adjustment: Adjustment, store: Store) -> Json:
    """The `inventory_regulation` answer an integrator reads and the old swagger describes
    (`{id, reason, description, lines[], regulated_at}`); the line shape is UNCONFIRMED."""
    product = store.products.get(adjustment.item_number)
    return {
        "id": adjustment.id,
        "reason": adjustment.reason,
        "description": adjustment.description,
        "regulated_at": adjustment.regulated_at.isoformat(),
        "lines": [
            {
                "item": {"number": adjustment.item_number},
                "location": {"number": adjustment.location_number},
                "quantity": num(adjustment.quantity),
                "variations": line_variations(store, product, adjustment.option_ids),
            }
        ],
    }

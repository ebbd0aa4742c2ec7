"""Seed data: the default account (group, locations, cash customer) and fixture loading.

A seed file is JSON:

    {"groups": [{"number": 1, "name": "Varer m/lagertræk"},
                {"number": 9, "name": "Afrunding", "vat_domestic": false}],
     "locations": [{"number": 1, "name": "Hovedlager", "is_default": true}],
     "variations": [{"id": 900, "name": "Tøj", "types": [{"id": 901, "name": "Størrelse",
                     "options": [{"id": 902, "name": "S"}, {"id": 903, "name": "M"}]}]}],
     "customers": [{"number": 1, "company_name": "Kontantkunde"}],
     "products": [{"number": "SKU-1", "name": "Kaffe", "group": 1, "sales_price": "80.00",
                   "cost_price": "35.00", "variation_id": 900,
                   "stock": [{"location": 1, "quantity": 10, "option_ids": [902]}]}]}

Seeding writes state directly: no validation beyond references, and no webhooks.
"""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

from infra.simulators.rackbeat.records import (
    Customer,
    Group,
    Location,
    Product,
    Variation,
    VariationOption,
    VariationType,
)
from infra.simulators.rackbeat.store import Store
from infra.simulators.rackbeat.validation import invalid

DEFAULT_SEED: dict[str, Any] = {
    "groups": [{"number": 1, "name": "Varer m/lagertræk"}],
    "locations": [
        {"number": 1, "name": "Hovedlager", "is_default": True},
        {"number": 2, "name": "Butik"},
    ],
    "customers": [{"number": 1, "company_name": "Kontantkunde"}],
}


def load_seed(store: Store, data: dict[str, Any]) -> dict[str, int]:
    """Upsert everything in `data`; returns how many of each kind were loaded."""
    for raw in data.get("groups", []):
        vat = bool(raw.get("vat_domestic", True))
        store.groups[int(raw["number"])] = Group(int(raw["number"]), str(raw["name"]), vat)
    for raw in data.get("locations", []):
        location = Location(
            number=int(raw["number"]),
            name=str(raw["name"]),
            is_default=bool(raw.get("is_default", False)),
            parent_id=raw.get("parent_id"),
            barcode=raw.get("barcode"),
        )
        store.locations[location.number] = location
    for raw in data.get("variations", []):
        store.variations[int(raw["id"])] = _variation(raw)
    for raw in data.get("customers", []):
        extra = {k: v for k, v in raw.items() if k not in {"number", "company_name"}}
        customer = Customer(int(raw["number"]), str(raw["company_name"]), extra)
        store.customers[customer.number] = customer
    for raw in data.get("products", []):
        _product(store, raw)
    _skip_used_ids(store)
    return {
        kind: len(data.get(kind, []))
        for kind in ("groups", "locations", "variations", "customers", "products")
    }


def _variation(raw: dict[str, Any]) -> Variation:
    types = [
        VariationType(
            int(t["id"]),
            str(t["name"]),
            [VariationOption(int(o["id"]), str(o["name"])) for o in t["options"]],
        )
        for t in raw["types"]
    ]
    return Variation(int(raw["id"]), str(raw["name"]), types)


def _product(store: Store, raw: dict[str, Any]) -> None:
    number = str(raw["number"])
    group = int(raw.get("group", 1))
    if group not in store.groups:
        raise invalid("products.group", f"Group {group} of product {number} is not seeded.")
    variation_id = raw.get("variation_id")
    if variation_id is not None and int(variation_id) not in store.variations:
        raise invalid("products.variation_id", f"Variation {variation_id} is not seeded.")
    existing = store.products.get(number)
    product = Product(
        id=existing.id if existing else store.next_id(),
        number=number,
        name=str(raw["name"]),
        group_number=group,
        sales_price=Decimal(str(raw.get("sales_price", "0"))),
        description=str(raw.get("description", "")),
        barcode=raw.get("barcode"),
        cost_price=Decimal(str(raw.get("cost_price", "0"))),
        variation_id=int(variation_id) if variation_id is not None else None,
        default_location_number=raw.get("default_location_id"),
    )
    store.products[number] = product
    for row in raw.get("stock", []):
        location = int(row.get("location", store.default_location().number))
        if location not in store.locations:
            raise invalid("products.stock.location", f"Location {location} is not seeded.")
        key = tuple(sorted(int(o) for o in row.get("option_ids", [])))
        level = store.level(number, location, key)
        level.stock = Decimal(str(row.get("quantity", 0)))
        level.purchased = Decimal(str(row.get("purchased_quantity", 0)))
        product.has_stock_history = True


def _skip_used_ids(store: Store) -> None:
    """Seeded ids are explicit; make sure generated ids never collide with them."""
    used = [p.id for p in store.products.values()] + list(store.variations)
    for variation in store.variations.values():
        for vtype in variation.types:
            used.append(vtype.id)
            used.extend(option.id for option in vtype.options)
    current = store.next_id()
    store._ids = itertools.count(max([current, *used]) + 1)

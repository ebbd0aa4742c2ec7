"""Shared set-up for the sales-direction e2e tests and benchmark: catalog products on both
simulators, bindings on the namespace's `items.bindings.v1`, the two services as processes,
sales rung up at the Shopbox till, and checks of what landed in Rackbeat.

Bindings are published here directly (item-mapper is built in parallel); Rackbeat is seeded with
matching products: simple products by SKU, variant products as one item with a variation whose
options are the Shopbox variants.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from aiokafka import AIOKafkaProducer

from domain.sales.orders import order_reference
from infra.simulators.rackbeat.records import Order
from schemas.items import Binding, BindingChanged
from schemas.topics import Topics

DEMO_SHOP_VAT = Decimal("1.25")


@dataclass(frozen=True)
class CatalogItem:
    """One sellable thing: a simple product, or one variant of a variant product."""

    product: int
    variant: int | None
    sku: str
    price_ore: int
    rackbeat_item: str
    variation_id: int | None = None
    option_id: int | None = None

    def binding(self) -> Binding:
        return Binding(
            sku=self.sku,
            shopbox_product_id=str(self.product),
            shopbox_variant_id=str(self.variant) if self.variant is not None else None,
            rackbeat_item_number=self.rackbeat_item,
            rackbeat_variation_id=str(self.variation_id) if self.variation_id else None,
            rackbeat_option_id=str(self.option_id) if self.option_id else None,
        )


@dataclass
class Catalog:
    items: list[CatalogItem]
    rackbeat_seed: dict[str, Any]
    held_back: list[CatalogItem] = field(default_factory=list)
    """Items seeded in Shopbox only: no Rackbeat product and no binding (unknown SKU)."""


def build_catalog(shop: dict[str, Any], *, simple: int = 40, variant_products: int = 8) -> Catalog:
    """Products with clean, unique SKUs from the demo shop, and the Rackbeat seed for them."""
    counts = Counter(p["sku_code"] for p in shop["products"])
    clean = [p for p in shop["products"] if not p.get("bad_sku") and counts[p["sku_code"]] == 1]
    simples = [p for p in clean if not p["product_variances"]][: simple + 1]
    with_variants = [p for p in clean if p["product_variances"]][:variant_products]
    items: list[CatalogItem] = []
    products: list[dict[str, Any]] = []
    variations: list[dict[str, Any]] = []
    for p in simples:
        items.append(CatalogItem(p["uid"], None, p["sku_code"], p["selling_price"], p["sku_code"]))
        products.append(_rackbeat_product(p["sku_code"], p["name"], p["selling_price"]))
    next_id = 50_000
    for p in with_variants:
        variation_id, type_id = next_id, next_id + 1
        options = []
        for offset, v in enumerate(p["product_variances"], start=2):
            option_id = next_id + offset
            options.append({"id": option_id, "name": v["sku_code"]})
            price = v.get("selling_price") or p["selling_price"]
            items.append(
                CatalogItem(
                    p["uid"], v["uid"], v["sku_code"], price, p["sku_code"], variation_id, option_id
                )
            )
        next_id += 100
        variations.append(
            {
                "id": variation_id,
                "name": f"Var {p['sku_code']}",
                "types": [{"id": type_id, "name": "Størrelse", "options": options}],
            }
        )
        product = _rackbeat_product(p["sku_code"], p["name"], p["selling_price"])
        products.append({**product, "variation_id": variation_id})
    held = items.pop(0)  # the first simple product plays the unknown SKU
    products = [pr for pr in products if pr["number"] != held.rackbeat_item]
    seed = {"variations": variations, "products": products}
    return Catalog(items=items, rackbeat_seed=seed, held_back=[held])


def _rackbeat_product(number: str, name: str, price_ore: int) -> dict[str, Any]:
    net = (Decimal(price_ore) / 100 / DEMO_SHOP_VAT).quantize(Decimal("0.01"))
    return {"number": number, "name": name, "group": 1, "sales_price": str(net)}


async def publish_bindings(bootstrap: str, namespace: str, items: list[CatalogItem]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        for item in items:
            event = BindingChanged(
                event_id=f"test-binding-{item.sku}",
                occurred_at=datetime.now(UTC),
                source="test",
                payload=item.binding(),
            )
            await producer.send(
                Topics(namespace).bindings,
                event.model_dump_json().encode(),
                key=item.sku.encode(),
            )
        await producer.flush()
    finally:
        await producer.stop()


def sale_lines(rng: random.Random, items: list[CatalogItem]) -> list[dict[str, Any]]:
    """1-3 distinct items, quantity 1-3, one line in five with a whole-percent discount."""
    lines = []
    for item in rng.sample(items, rng.randint(1, 3)):
        line: dict[str, Any] = {"product": item.product, "quantity": rng.randint(1, 3)}
        if item.variant is not None:
            line["product_variance"] = item.variant
        if rng.random() < 0.2:
            line["discount"] = rng.choice([5, 10, 25])
        lines.append(line)
    return lines


def service_env(
    namespace: str, shopbox: Any, rackbeat: Any, hook_secret: str, **extra: str
) -> dict[str, str]:
    env = {
        "KAFKA_TOPIC_NAMESPACE": namespace,
        "SHOPBOX_BASE_URL": shopbox.api_url,
        "SHOPBOX_API_TOKEN": shopbox.token,
        "SHOPBOX_WEBHOOK_SECRET": hook_secret,
        "RACKBEAT_BASE_URL": rackbeat.api_url,
        "RACKBEAT_API_TOKEN": rackbeat.token,
        "RACKBEAT_REQUESTS_PER_MINUTE": "60000",
        "SYNC_BRANCH_LOCATIONS": json.dumps({"1": 1, "2": 2}),
        "ORDER_INGEST_POLL_INTERVAL_S": "0.5",
        "ORDER_INGEST_SWEEP_INTERVAL_S": "3",
        "ORDER_INGEST_SWEEP_GRACE_S": "2",
        "RETRY_ATTEMPTS": "4",
        "RETRY_INITIAL_BACKOFF_S": "0.05",
        "RETRY_MAX_BACKOFF_S": "0.5",
        "LOG_LEVEL": "INFO",
    }
    return {**env, **extra}


def reference_of(order: Order) -> str:
    """The Shopbox reference an order carries: `their_reference`, else the heading's `[...]`
    (the strict simulator profile drops `their_reference`)."""
    if order.their_reference:
        return order.their_reference
    heading = order.heading or ""
    return heading[heading.rfind("[") + 1 : -1] if heading.endswith("]") else ""


def orders_by_reference(orders: dict[int, Order]) -> dict[str, list[Order]]:
    found: dict[str, list[Order]] = {}
    for order in orders.values():
        found.setdefault(reference_of(order), []).append(order)
    return found


def order_total_incl_vat(order: Order) -> Decimal:
    return sum((line.total for line in order.lines), Decimal(0)) * DEMO_SHOP_VAT


def line_key(item: CatalogItem, quantity: Decimal) -> tuple[str, tuple[int, ...], Decimal]:
    """What an order line must carry: the item, the variation option of a variant, the count."""
    return item.rackbeat_item, (item.option_id,) if item.option_id else (), quantity


def check_orders(baskets: dict[int, Any], orders: dict[int, Order], catalog: Catalog) -> list[str]:
    """Every basket has exactly one order with its lines (variants by their variation option)
    and total; returns what is wrong."""
    by_reference = orders_by_reference(orders)
    by_key = {(i.product, i.variant): i for i in catalog.items}
    problems = []
    for uid, basket in baskets.items():
        matching = by_reference.get(order_reference(str(uid)), [])
        if len(matching) != 1:
            problems.append(f"basket {uid}: {len(matching)} orders")
            continue
        order = matching[0]
        want = sorted(
            line_key(by_key[(i.product, i.product_variance)], Decimal(str(i.quantity)))
            for i in basket.items
        )
        got = sorted(
            (line.item_number, tuple(line.option_ids), line.quantity) for line in order.lines
        )
        if want != got:
            problems.append(f"basket {uid}: lines {got} != {want}")
        shopbox_total = Decimal(basket.total) / 100
        units = sum(abs(Decimal(str(i.quantity))) for i in basket.items)
        if abs(order_total_incl_vat(order) - shopbox_total) > Decimal("0.01") * units + Decimal(
            "0.05"
        ):
            problems.append(f"basket {uid}: total {order_total_incl_vat(order)} != {shopbox_total}")
    extra = set(by_reference) - {order_reference(str(uid)) for uid in baskets}
    problems.extend(f"order with unexpected reference {ref}" for ref in sorted(extra))
    return problems

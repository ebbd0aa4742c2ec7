"""JSON shapes the Shopbox simulator answers with (apis.md §2, addendum A2-A8).

Related objects appear twice, as the vendor does: the scalar id under the foreign-key name and
the embedded object under the same name plus `0` (`tag`/`tag0`, `cash_register`/`cash_register0`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from infra.simulators.shopbox.shop import (
    Basket,
    BasketItem,
    Branch,
    CashRegister,
    Product,
    Shop,
    StockKey,
    Variance,
)


def variance_json(variance: Variance) -> dict[str, Any]:
    return {
        "uid": variance.uid,
        "product": variance.product,
        "sku_code": variance.sku_code,
        "code": variance.code,
        "name": variance.name,
        "description": variance.description,
        "selling_price": variance.selling_price,
        "stock_price": variance.stock_price,
        "variance_values": variance.variance_values,
    }


def product_json(shop: Shop, product: Product) -> dict[str, Any]:
    tag0 = (
        {"uid": product.tag, "name": shop.tags[product.tag]} if product.tag in shop.tags else None
    )
    return {
        "uid": product.uid,
        "name": product.name,
        "sku_code": product.sku_code,
        "code": product.code,
        "description": product.description,
        "selling_price": product.selling_price,
        "stock_price": product.stock_price,
        "tag": product.tag,
        "tag0": tag0,
        "inventory_on_variants": int(product.inventory_on_variants),
        "product_variances": [variance_json(v) for v in product.variances.values()],
        "updated_at": product.updated_at,
    }


def register_json(register: CashRegister) -> dict[str, Any]:
    return {
        "uid": register.uid,
        "name": register.name,
        "branch": register.branch,
        "filter_uid": None,
    }


def branch_json(shop: Shop, branch: Branch, *, with_registers: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"uid": branch.uid, "name": branch.name}
    if with_registers:
        body["cash_registers"] = [register_json(shop.registers[r]) for r in branch.cash_registers]
    return body


def inventory_row_json(shop: Shop, key: StockKey) -> dict[str, Any]:
    """Row of `GET /product-inventories`: `uid` is the PRODUCT uid, as the plugin reads it."""
    branch, product_uid, variance_uid = key
    product = shop.products[product_uid]
    variance = product.variances.get(variance_uid) if variance_uid is not None else None
    return {
        "uid": product_uid,
        "product": product_uid,
        "product_variance": variance_uid,
        "branch": branch,
        "sku_code": variance.sku_code if variance else product.sku_code,
        "quantity": shop.quantity(key),
    }


def basket_item_json(item: BasketItem) -> dict[str, Any]:
    return {
        "product": item.product,
        "product_variance": item.product_variance,
        "sku_code": item.sku_code,
        "name": item.name,
        "quantity": item.quantity,
        "selling_price": item.selling_price,
        "discount": item.discount,
        "total": item.total,
    }


def with_updated_at(body: dict[str, Any], form: str) -> dict[str, Any]:
    """The record with `updated_at` as the `updated_at_format` switch says (unix s by default)."""
    seconds = body["updated_at"]
    if form == "float":
        return {**body, "updated_at": seconds + 0.25}
    if form == "iso":
        return {**body, "updated_at": datetime.fromtimestamp(seconds, tz=UTC).isoformat()}
    return body


def with_time_key(body: dict[str, Any], key: str) -> dict[str, Any]:
    """The basket with its creation time under the key the `basket_time_key` switch names."""
    if key == "creation_time":
        return body
    created = body.pop("creation_time")
    if key == "crdate":
        return {**body, "crdate": created}
    return {**body, "created_at": datetime.fromtimestamp(created, tz=UTC).isoformat()}


def basket_json(shop: Shop, basket: Basket, *, lines_key: str = "basket_items") -> dict[str, Any]:
    register = shop.registers[basket.cash_register]
    branch = shop.branches[basket.branch]
    payment_name = shop.payment_types.get(basket.payment_type or -1)
    return {
        "uid": basket.uid,
        "creation_time": basket.creation_time,
        "updated_at": basket.updated_at,
        "canceled": basket.canceled,
        "cash_register": basket.cash_register,
        "cash_register0": register_json(register),
        "branch": basket.branch,
        "branch0": {"uid": branch.uid, "name": branch.name},
        "staff": basket.staff,
        "external_id": basket.external_id,
        "order_hash": basket.order_hash,
        "discount_margin": basket.discount_margin,
        "total": basket.total,
        lines_key: [basket_item_json(item) for item in basket.items],
        "payments": [
            {
                "type": basket.payment_type,
                "type0": {"uid": basket.payment_type, "name": payment_name}
                if payment_name
                else None,
                "amount": basket.total,
            }
        ],
    }

"""Item rules without I/O: SKU validity and duplicates, prices, variant mapping, field diffs."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain.items.rules import (
    PriceRules,
    duplicate_skus,
    problem_binding,
    shopbox_snapshot,
    sku_problem,
    variant_axes,
)
from domain.items.stock_copy import stock_by_location
from domain.items.to_rackbeat import Desired, product_changes
from domain.items.to_shopbox import shopbox_changes
from schemas.items import ProductSnapshot, VariantSnapshot
from services.clients import rackbeat_models as rb
from services.clients import shopbox as sb
from services.clients.shopbox import InventoryRow


def snap(pid: str, sku: str | None, *variants: tuple[str, str | None, str]) -> ProductSnapshot:
    return ProductSnapshot(
        system="shopbox",
        product_id=pid,
        sku=sku,
        name=f"P{pid}",
        variants=[
            VariantSnapshot(variant_id=v, sku=s, attributes={"Size": value})
            for v, s, value in variants
        ],
    )


@pytest.mark.parametrize(
    ("sku", "problem"),
    [
        ("ABC-1", None),
        ("X" * 25, None),
        ("X" * 26, "26 characters"),
        ("", "empty SKU"),
        ("   ", "empty SKU"),
        (None, "empty SKU"),
        (" A", "spaces"),
    ],
)
def test_sku_problem(sku: str | None, problem: str | None) -> None:
    found = sku_problem(sku)
    assert (found is None) if problem is None else (problem in (found or ""))


def test_duplicates_across_products_variants_and_item_numbers() -> None:
    products = [
        snap("1", "A"),
        snap("2", "A"),
        snap("3", "SHIRT", ("31", "SHIRT-S", "S"), ("32", "B", "M")),
        snap("4", "B"),
        snap("5", "SHIRT"),
        snap("6", "C"),
    ]
    dupes = duplicate_skus(products)
    assert set(dupes) == {"A", "B", "SHIRT"}
    assert dupes["B"] == [("3", "32"), ("4", None)]
    assert "C" not in dupes and "SHIRT-S" not in dupes


def test_deleted_products_do_not_count_as_duplicates() -> None:
    gone = snap("2", "A").model_copy(update={"deleted": True})
    assert duplicate_skus([snap("1", "A"), gone]) == {}


def test_empty_sku_problem_binding_has_a_unique_key() -> None:
    one = problem_binding("", "empty SKU", ("100", None))
    two = problem_binding(None, "empty SKU", ("101", "7"))
    assert one.sku != two.sku and one.problem == "empty SKU"
    assert two.shopbox_product_id == "101" and two.shopbox_variant_id == "7"


def test_prices_between_gross_shopbox_and_net_rackbeat() -> None:
    rules = PriceRules(Decimal(25))
    assert rules.to_rackbeat(Decimal("338.00")) == Decimal("270.40")
    assert rules.to_shopbox(Decimal("270.40")) == Decimal("338.00")
    assert rules.to_rackbeat(Decimal("0.01")) == Decimal("0.01")  # half-up to whole øre
    both_gross = PriceRules(Decimal(25), rackbeat_includes_vat=True)
    assert both_gross.to_rackbeat(Decimal("19")) == Decimal("19.00")


def test_variant_axes_map_one_type() -> None:
    axes = variant_axes(snap("1", "T", ("a", "T-S", "S"), ("b", "T-M", "M")))
    assert axes == {"Size": ["S", "M"]}
    clash = variant_axes(snap("1", "T", ("a", "T-S", "S"), ("b", "T-S2", "S")))
    assert isinstance(clash, str) and "share the Size value 'S'" in clash


def two_types(*values: tuple[str, str]) -> ProductSnapshot:
    return ProductSnapshot(
        system="shopbox",
        product_id="1",
        sku="T",
        name="T",
        variants=[
            VariantSnapshot(
                variant_id=str(i), sku=f"T-{i}", attributes={"Size": size, "Colour": colour}
            )
            for i, (size, colour) in enumerate(values)
        ],
    )


def test_variant_axes_map_every_type_with_its_values_in_first_use_order() -> None:
    axes = variant_axes(two_types(("S", "Red"), ("M", "Red"), ("S", "Blue")))
    assert axes == {"Colour": ["Red", "Blue"], "Size": ["S", "M"]}


def test_variant_axes_refuse_two_variants_with_the_same_values_of_every_type() -> None:
    clash = variant_axes(two_types(("S", "Red"), ("S", "Red")))
    assert isinstance(clash, str)
    assert "share the values Colour 'Red', Size 'S'" in clash
    assert "its own combination of Colour and Size in Shopbox" in clash


def test_variant_axes_refuse_a_variant_without_a_value_of_one_type() -> None:
    snapshot = two_types(("S", "Red"))
    lacking = VariantSnapshot(variant_id="9", sku="T-9", attributes={"Size": "M"})
    snapshot = snapshot.model_copy(update={"variants": [*snapshot.variants, lacking]})
    assert variant_axes(snapshot) == "variant 9 has no Colour value: give it one in Shopbox"


def test_shopbox_snapshot_keeps_synced_fields_only() -> None:
    product = sb.Product.model_validate(
        {
            "uid": 5,
            "name": "Shirt",
            "sku_code": "SH",
            "selling_price": 33800,
            "tag": 601,
            "product_variances": [
                {
                    "uid": 9,
                    "sku_code": "SH-M",
                    "selling_price": 35800,
                    "variance_values": [{"name": "M", "variance_type": "Størrelse"}],
                }
            ],
        }
    )
    snapshot = shopbox_snapshot(product)
    assert snapshot.price == Decimal("338.00") and snapshot.product_id == "5"
    assert snapshot.variants[0].attributes == {"Størrelse": "M"}
    assert snapshot.variants[0].price == Decimal("358.00")


def test_rackbeat_changes_only_what_differs() -> None:
    current = rb.Product(number="A", name="Old", description="", sales_price=Decimal("10.4"))
    assert product_changes(current, Desired("Old", None, Decimal("10.40")), None) is None
    changes = product_changes(current, Desired("New", "d", Decimal("10.40")), 7)
    assert changes is not None
    assert changes.model_dump(exclude_unset=True) == {
        "name": "New",
        "description": "d",
        "variation_id": 7,
    }


def test_shopbox_changes_include_existing_variants_only_when_they_differ() -> None:
    current = sb.Product.model_validate(
        {
            "uid": 1,
            "name": "Kaffe",
            "sku_code": "K",
            "selling_price": 10000,
            "description": "500 g",
            "product_variances": [{"uid": 2, "selling_price": 10000, "description": "500 g"}],
        }
    )
    same = ProductSnapshot(
        system="rackbeat", product_id="K", sku="K", name="Kaffe", description="500 g"
    )
    assert shopbox_changes(current, same, Decimal("100.00")) == (None, [])
    upsert, changes = shopbox_changes(current, same, Decimal("120.00"))
    assert upsert is not None and changes == ["selling_price", "variant 2"]
    body = upsert.to_api()
    assert body["selling_price"] == 12000 and body["variants"] == [
        {"uid": "2", "selling_price": 12000}
    ]


def test_stock_is_summed_per_location_and_unmapped_branches_are_reported() -> None:
    rows = {
        "1": [InventoryRow(uid="10", quantity=Decimal(3))],
        "2": [
            InventoryRow(uid="10", quantity=Decimal(4)),
            InventoryRow(uid="11", product_variance="5", quantity=Decimal(1)),
        ],
        "3": [InventoryRow(uid="10", quantity=Decimal(9))],
    }
    stock, unmapped = stock_by_location(rows, {"1": 1, "2": 1})
    assert stock[("10", None)][1] == Decimal(7)
    assert stock[("11", "5")][1] == Decimal(1)
    assert unmapped == ["3"]

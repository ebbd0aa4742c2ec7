"""The demo-shop fixture's promises, and the one place øre and kroner are converted."""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infra.simulators.fixtures.generate_demo_shop import OUTPUT, build
from schemas.money import kroner_to_ore, ore_to_kroner
from services.clients.shopbox import Basket, Product
from tests.fixtures.shopbox_sim import demo_shop


def all_skus() -> list[str]:
    products = demo_shop()["products"]
    return [p["sku_code"] for p in products] + [
        v["sku_code"] for p in products for v in p["product_variances"]
    ]


def test_fixture_file_is_what_the_generator_builds() -> None:
    assert json.loads(OUTPUT.read_text(encoding="utf-8")) == json.loads(json.dumps(build()))


def test_fixture_has_a_few_hundred_products_forty_with_one_variant_type_two_size_x_colour() -> None:
    products = demo_shop()["products"]
    with_variants = [p for p in products if p["product_variances"]]
    assert len(products) == 302
    assert len({p["uid"] for p in products}) == 302
    types = {p["sku_code"]: variant_types(p) for p in with_variants}
    one_type = [p for p in with_variants if len(types[p["sku_code"]]) == 1]
    assert len(one_type) == 40
    assert all(2 <= len(p["product_variances"]) <= 4 for p in one_type)
    assert {sku: t for sku, t in types.items() if len(t) > 1} == {
        "SKO-0001": {"Størrelse", "Farve"},
        "JAK-0001": {"Størrelse", "Farve"},
    }
    for product in with_variants:  # every variant has a value of every type, no two the same
        combos = [variant_values(v) for v in product["product_variances"]]
        assert all(set(c) == types[product["sku_code"]] for c in combos)
        assert len({tuple(sorted(c.items())) for c in combos}) == len(combos)
    assert {b["name"] for b in demo_shop()["branches"]} == {"København", "Aarhus"}


def variant_types(product: dict[str, Any]) -> set[str]:
    return {v["variance_type"] for x in product["product_variances"] for v in x["variance_values"]}


def variant_values(variance: dict[str, Any]) -> dict[str, str]:
    return {v["variance_type"]: v["name"] for v in variance["variance_values"]}


def test_only_the_marked_products_have_bad_skus() -> None:
    marked = {p["bad_sku"]: p for p in demo_shop()["products"] if "bad_sku" in p}
    assert set(marked) == {"empty", "too_long", "duplicate"}
    assert marked["empty"]["sku_code"] == ""
    assert len(marked["too_long"]["sku_code"]) > 25
    counts = Counter(all_skus())
    assert counts[marked["duplicate"]["sku_code"]] == 2
    bad = {marked[k]["sku_code"] for k in marked}
    good = [sku for sku in all_skus() if sku not in bad]
    assert all(0 < len(sku) <= 25 for sku in good)
    assert len(set(good)) == len(good)


def test_prices_are_whole_ore_and_stock_covers_both_branches() -> None:
    products = demo_shop()["products"]
    assert all(isinstance(p["selling_price"], int) and p["selling_price"] > 0 for p in products)
    stock_keys = {(r["branch"], r["product"]) for r in demo_shop()["stock"]}
    assert all((branch, p["uid"]) in stock_keys for p in products for branch in (1, 2))


@pytest.mark.parametrize(
    ("ore", "kroner"),
    [(0, "0.00"), (1, "0.01"), (12995, "129.95"), (-2500, "-25.00"), (12500.0, "125.00")],
)
def test_ore_to_kroner(ore: int | float, kroner: str) -> None:
    assert ore_to_kroner(ore) == Decimal(kroner)


def test_fractional_ore_is_refused_not_rounded() -> None:
    with pytest.raises(ValueError, match="whole number of øre"):
        ore_to_kroner(125.5)


@pytest.mark.parametrize(
    ("kroner", "ore"),
    [("129.95", 12995), ("0.005", 1), ("129.954", 12995), ("129.955", 12996), ("-1.005", -101)],
)
def test_kroner_to_ore_rounds_half_away_from_zero(kroner: str, ore: int) -> None:
    assert kroner_to_ore(Decimal(kroner)) == ore


@given(st.integers(min_value=-(10**9), max_value=10**9))
def test_ore_kroner_round_trip(ore: int) -> None:
    assert kroner_to_ore(ore_to_kroner(ore)) == ore


def test_models_read_ore_as_decimal_kroner() -> None:
    product = Product.model_validate(
        {"uid": 5, "name": "Rugbrød", "sku": "BRD-1", "selling_price": 3495, "stock_price": None}
    )
    assert (product.uid, product.sku_code, product.selling_price) == (
        "5",
        "BRD-1",
        Decimal("34.95"),
    )
    basket = Basket.model_validate(
        {
            "uid": 9,
            "creation_time": 0,
            "basket_items": [{"product": 5, "quantity": -2, "selling_price": 3495, "total": -6990}],
        }
    )
    assert basket.basket_items[0].total == Decimal("-69.90")
    assert basket.is_refund

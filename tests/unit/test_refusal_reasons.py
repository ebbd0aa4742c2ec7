"""Every skip and dead-letter reason names its actual cause and the fix, one test per cause.

A reason is read by an operator who fixes one thing and re-drives: it must point at that thing
(two variants with the same values have fine SKUs, so it must not say "fix the SKU").
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, cast

import pytest

from domain.items.rules import PriceRules, duplicate_skus
from domain.items.to_rackbeat import RackbeatWriter
from domain.items.to_shopbox import ShopboxWriter
from domain.sales.orders import MissingBinding, OrderRules, Unmappable, build_order
from schemas.items import Binding, ProductSnapshot, VariantSnapshot
from schemas.sales import Sale, SaleLine

PRICES = PriceRules(Decimal(25))


def product(sku: str | None, *variants: dict[str, str], skus: list[str] | None = None) -> Any:
    return ProductSnapshot(
        system="shopbox",
        product_id="100",
        sku=sku,
        name="Skjorte",
        variants=[
            VariantSnapshot(
                variant_id=str(i), sku=(skus or [])[i] if skus else f"V-{i}", attributes=a
            )
            for i, a in enumerate(variants)
        ],
    )


async def shopbox_master_skip(snapshot: ProductSnapshot, *others: ProductSnapshot) -> str:
    """The reason the Shopbox-master applier skips `snapshot` (the skip paths make no call)."""
    writer = RackbeatWriter(cast(Any, None), cast(Any, None), PRICES, group=1)
    outcome = await writer.apply(snapshot, duplicate_skus([snapshot, *others]))
    assert outcome.action == "skipped" and outcome.reason
    assert all(b.problem for b in outcome.bindings)
    return outcome.reason


CAUSES = [
    (
        "two variants with the same values of two types",
        product("SK", {"Størrelse": "M", "Farve": "Rød"}, {"Størrelse": "M", "Farve": "Rød"}),
        ["share the values Farve 'Rød', Størrelse 'M'", "own combination of Farve and Størrelse"],
    ),
    (
        "no variant type",
        product("SK", {}, {}),
        ["no variant type", "give each variant a variant type"],
    ),
    (
        "a variant without a value",
        product("SK", {"Størrelse": "M"}, {}),
        ["variant 1 has no Størrelse value", "give it one in Shopbox"],
    ),
    (
        "two variants with one value",
        product("SK", {"Størrelse": "M"}, {"Størrelse": "M"}),
        ["share the Størrelse value 'M'", "its own Størrelse value in Shopbox"],
    ),
    ("an empty product SKU", product(None), ["empty SKU", "give it a unique SKU in Shopbox"]),
    (
        "an over-long SKU",
        product("X" * 30),
        ["30 characters", "shorten the SKU to 25 characters or fewer in Shopbox"],
    ),
    (
        "spaces around the SKU",
        product(" SK "),
        ["leading or trailing spaces", "remove the spaces around the SKU in Shopbox"],
    ),
]


@pytest.mark.parametrize(("cause", "snapshot", "words"), CAUSES, ids=[c[0] for c in CAUSES])
async def test_each_shopbox_master_skip_names_its_cause_and_fix(
    cause: str, snapshot: ProductSnapshot, words: list[str]
) -> None:
    reason = await shopbox_master_skip(snapshot)
    for word in words:
        assert word in reason, (cause, reason)
    if "SKU" not in cause:
        assert "SKU in Shopbox" not in reason and "fix the SKU" not in reason, reason


async def test_a_duplicate_sku_names_both_holders_and_says_to_give_each_its_own() -> None:
    first, second = product("DUP"), product("DUP").model_copy(update={"product_id": "101"})
    reason = await shopbox_master_skip(first, second)
    assert "used by 2 Shopbox items (product 100, product 101)" in reason
    assert "give each of them its own SKU in Shopbox" in reason


async def test_a_rackbeat_item_number_problem_says_to_fix_it_in_rackbeat() -> None:
    writer = ShopboxWriter(cast(Any, None), PRICES, None)
    snapshot = ProductSnapshot(system="rackbeat", product_id=" RB ", sku=" RB ", name="x")
    outcome = await writer.apply(snapshot)
    assert outcome.action == "skipped" and outcome.reason
    assert "remove the spaces around the SKU in Rackbeat" in outcome.reason


def sale_of(line: SaleLine, branch: str = "1") -> Sale:
    return Sale(
        basket_id="5",
        branch_id=branch,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        lines=[line],
        total=line.unit_price,
    )


LINE = SaleLine(
    product_id="100",
    variant_id="0",
    sku="V-0",
    name="x",
    quantity=Decimal(1),
    unit_price=Decimal(10),
)


async def test_a_sale_of_a_variant_with_clashing_values_names_the_values_not_the_sku() -> None:
    reason = await shopbox_master_skip(CAUSES[0][1])
    reported = Binding(
        sku="V-0", shopbox_product_id="100", shopbox_variant_id="0", problem=f"not synced: {reason}"
    )
    with pytest.raises(MissingBinding) as raised:
        build_order(sale_of(LINE), "sale", lambda _: reported, OrderRules())
    text = str(raised.value)
    assert "share the values" in text and "syncctl dlq redrive" in text
    assert "fix the SKU" not in text


def test_an_unmapped_branch_says_to_add_it_to_the_setting() -> None:
    bound = Binding(sku="V-0", shopbox_product_id="100", rackbeat_item_number="SK")
    with pytest.raises(Unmappable, match=r"add it .*restart order-writer.*redrive"):
        build_order(
            sale_of(LINE, "3"), "sale", lambda _: bound, OrderRules(branch_locations={"1": 1})
        )


def test_a_line_without_a_product_names_the_setting_to_set() -> None:
    free = LINE.model_copy(update={"product_id": None})
    with pytest.raises(Unmappable, match=r"set ORDER_WRITER_FREE_TEXT_ITEM_NUMBER.*redrive"):
        build_order(sale_of(free), "sale", lambda _: None, OrderRules())


def test_an_option_without_a_variation_says_to_republish_the_binding() -> None:
    odd = Binding(
        sku="V-0", shopbox_product_id="100", rackbeat_item_number="SK", rackbeat_option_id="7"
    )
    with pytest.raises(MissingBinding, match=r"re-publish it.*redrive"):
        build_order(sale_of(LINE), "sale", lambda _: odd, OrderRules())


def test_an_unbound_sku_says_where_to_look() -> None:
    with pytest.raises(MissingBinding, match=r"item-mapper has not bound it.*initial-sync"):
        build_order(sale_of(LINE), "sale", lambda _: None, OrderRules())


async def test_the_rounding_item_is_never_created_in_shopbox_and_says_why() -> None:
    writer = ShopboxWriter(cast(Any, None), PRICES, None, not_for_sale=frozenset({"AFRUNDING"}))
    snapshot = ProductSnapshot(system="rackbeat", product_id="AFRUNDING", sku="AFRUNDING", name="x")
    outcome = await writer.apply(snapshot)  # a Shopbox call would fail on the None client
    assert outcome.action == "skipped" and outcome.bindings == []
    assert outcome.reason and "ORDER_WRITER_ROUNDING_ITEM_NUMBER" in outcome.reason

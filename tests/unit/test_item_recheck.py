"""After a poll pass: products held back by a duplicate SKU come back once it is resolved, and
bindings whose SKU no master product carries any more are found (plain logic, no I/O)."""

from __future__ import annotations

from domain.items.recheck import DuplicateWatch, gone_binding_keys
from domain.items.rules import duplicate_skus
from schemas.items import ProductSnapshot, VariantSnapshot


def snap(pid: str, sku: str | None, *variants: tuple[str, str | None]) -> ProductSnapshot:
    return ProductSnapshot(
        system="shopbox",
        product_id=pid,
        sku=sku,
        name=pid,
        variants=[
            VariantSnapshot(variant_id=v, sku=s, attributes={"Size": v}) for v, s in variants
        ],
    )


def test_the_remaining_owner_comes_back_when_the_other_is_renamed() -> None:
    a, b, c = snap("1", "BRD-0001"), snap("2", "BRD-0001"), snap("3", "OTHER")
    watch = DuplicateWatch()
    duplicates = duplicate_skus([a, b, c])
    for product in (a, b, c):
        watch.applied(product, duplicates)
    assert watch.held == {"1": {"BRD-0001"}, "2": {"BRD-0001"}}
    table = {p.product_id: p for p in (a, b, c)}
    assert watch.resolved(table, duplicates) == []  # still duplicated: nothing to do

    renamed = snap("2", "BRD-0001-B")
    table["2"] = renamed
    ready = watch.resolved(table, duplicate_skus(table.values()))
    assert {p.product_id for p in ready} == {"1", "2"}
    assert table["1"] in ready and watch.held == {}
    assert watch.resolved(table, duplicate_skus(table.values())) == []  # only once


def test_a_variant_sku_duplicate_holds_its_product_until_resolved() -> None:
    shirt = snap("1", "TOJ", ("s", "TOJ-S"), ("m", "TOJ-M"))
    other = snap("2", "TOJ-S")
    watch = DuplicateWatch()
    duplicates = duplicate_skus([shirt, other])
    watch.applied(shirt, duplicates)
    table = {"1": shirt, "2": snap("2", "X-1")}
    assert watch.resolved(table, duplicate_skus(table.values())) == [shirt]


def test_a_product_applied_again_without_duplicates_is_no_longer_held() -> None:
    watch = DuplicateWatch()
    watch.applied(snap("1", "A"), {"A": [("1", None), ("2", None)]})
    watch.applied(snap("1", "A"), {})
    assert watch.held == {}


def test_bindings_of_skus_no_product_carries_are_gone() -> None:
    table = [snap("1", "BRD-0002-NEW"), snap("2", "TOJ", ("s", "TOJ-S")), snap("3", None)]
    bound = {"BRD-0002", "BRD-0002-NEW", "TOJ-S", "TOJ-M", "<empty:3:None>", "<empty:4:None>"}
    assert gone_binding_keys(bound, table) == ["<empty:4:None>", "BRD-0002", "TOJ-M"]


def test_deleted_products_carry_no_sku() -> None:
    deleted = snap("1", "GONE").model_copy(update={"deleted": True})
    assert gone_binding_keys({"GONE"}, [deleted]) == ["GONE"]

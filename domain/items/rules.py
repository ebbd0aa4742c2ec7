"""The item rules, plain and Kafka-free: SKU validity, prices between the two systems, snapshots.

A SKU is the match key. One that is empty, longer than a Rackbeat item number may be (25), or
used by more than one Shopbox product/variant is reported and never matched by guess.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from schemas.items import Binding, ProductSnapshot, VariantSnapshot
from schemas.money import excl_vat, incl_vat
from services.clients import rackbeat_models as rb
from services.clients import shopbox as sb

MAX_SKU_LEN = 25
ShopboxRef = tuple[str, str | None]
"""(product uid, variant uid or None): one sellable thing in Shopbox."""


# ------------------------------------------------------------------------------------ SKUs


def sku_problem(sku: str | None) -> str | None:
    """Why this SKU can never be a match key on its own, or None if it can."""
    if sku is None or not sku.strip():
        return "empty SKU"
    if len(sku) > MAX_SKU_LEN:
        return f"SKU '{sku}' is {len(sku)} characters; Rackbeat item numbers allow {MAX_SKU_LEN}"
    if sku != sku.strip():
        return f"SKU '{sku}' has leading or trailing spaces"
    return None


def sku_fix(sku: str | None, system: str) -> str:
    """What the operator does about `sku_problem(sku)`, in the system that owns the SKU."""
    if sku is None or not sku.strip():
        return f"give it a unique SKU in {system}"
    if len(sku) > MAX_SKU_LEN:
        return f"shorten the SKU to {MAX_SKU_LEN} characters or fewer in {system}"
    return f"remove the spaces around the SKU in {system}"


def with_sku_fix(sku: str | None, system: str) -> str | None:
    """`sku_problem(sku)` followed by its fix, or None when the SKU is usable."""
    problem = sku_problem(sku)
    return f"{problem}: {sku_fix(sku, system)}" if problem else None


def sellable_skus(snapshot: ProductSnapshot) -> list[tuple[str | None, ShopboxRef]]:
    """The SKUs a sale can carry: each variant's, or the product's own when it has none."""
    if snapshot.variants:
        return [(v.sku, (snapshot.product_id, v.variant_id)) for v in snapshot.variants]
    return [(snapshot.sku, (snapshot.product_id, None))]


def duplicate_skus(snapshots: Iterable[ProductSnapshot]) -> dict[str, list[ShopboxRef]]:
    """SKUs used by more than one sellable thing (or as a product number by another product)."""
    owners: dict[str, set[ShopboxRef]] = defaultdict(set)
    for snapshot in snapshots:
        if snapshot.deleted:
            continue
        for sku, ref in sellable_skus(snapshot):
            if sku and sku.strip():
                owners[sku].add(ref)
        if snapshot.variants and snapshot.sku and snapshot.sku.strip():
            # The product's own SKU becomes the Rackbeat item number of its variants.
            owners[snapshot.sku].add((snapshot.product_id, None))
    return {sku: sorted(refs, key=str) for sku, refs in owners.items() if len(refs) > 1}


def duplicate_problem(sku: str, refs: list[ShopboxRef]) -> str:
    names = ", ".join(f"product {p}" + (f" variant {v}" if v else "") for p, v in refs)
    return (
        f"SKU '{sku}' is used by {len(refs)} Shopbox items ({names}): "
        "give each of them its own SKU in Shopbox"
    )


def problem_binding(sku: str | None, problem: str, ref: ShopboxRef | None = None) -> Binding:
    """A reported, never-matched binding. Empty SKUs are keyed by the Shopbox ids instead."""
    key = sku if sku and sku.strip() else f"<empty:{ref[0] if ref else '?'}:{ref and ref[1]}>"
    product, variant = ref if ref else (None, None)
    return Binding(sku=key, shopbox_product_id=product, shopbox_variant_id=variant, problem=problem)


# ------------------------------------------------------------------------------------ money


@dataclass(frozen=True)
class PriceRules:
    """Which side's prices include VAT (settings) and the VAT rate."""

    vat_percent: Decimal
    shopbox_includes_vat: bool = True
    rackbeat_includes_vat: bool = False

    def to_rackbeat(self, shopbox_price: Decimal) -> Decimal:
        return self._convert(shopbox_price, self.shopbox_includes_vat, self.rackbeat_includes_vat)

    def to_shopbox(self, rackbeat_price: Decimal) -> Decimal:
        return self._convert(rackbeat_price, self.rackbeat_includes_vat, self.shopbox_includes_vat)

    def _convert(self, amount: Decimal, from_gross: bool, to_gross: bool) -> Decimal:
        if from_gross and not to_gross:
            return excl_vat(amount, self.vat_percent)
        if to_gross and not from_gross:
            return incl_vat(amount, self.vat_percent)
        return amount.quantize(Decimal("0.01"))


# ------------------------------------------------------------------------------------ snapshots


def shopbox_snapshot(product: sb.Product) -> ProductSnapshot:
    """The synced fields of a Shopbox product; prices stay kroner incl. VAT as Shopbox has them."""
    return ProductSnapshot(
        system="shopbox",
        product_id=product.uid,
        sku=product.sku_code,
        name=product.name,
        description=product.description or None,
        price=product.selling_price,
        variants=[
            VariantSnapshot(
                variant_id=variance.uid,
                sku=variance.sku_code,
                name=variance.name,
                description=variance.description or None,
                price=variance.selling_price,
                attributes={
                    value.variance_type or "Variant": value.name
                    for value in variance.variance_values
                    if value.name
                },
            )
            for variance in product.product_variances
        ],
    )


def rackbeat_snapshot(product: rb.Product, variation: rb.Variation | None) -> ProductSnapshot:
    """A Rackbeat product; a variation shows as one variant per option (no SKUs of their own)."""
    variants: list[VariantSnapshot] = []
    if variation is not None:
        for vtype in variation.types:
            variants.extend(
                VariantSnapshot(
                    variant_id=str(option.id), sku=None, attributes={vtype.name: option.name}
                )
                for option in vtype.options
            )
    return ProductSnapshot(
        system="rackbeat",
        product_id=product.number,
        sku=product.number,
        name=product.name,
        description=product.description or None,
        price=product.sales_price,
        variants=variants,
    )


VariantAxes = dict[str, list[str]]
"""A product's variant types (e.g. Farve, Størrelse, by name) and each type's values in the
order the variants first use them: one Rackbeat variation type per Shopbox variant type."""


def variant_axes(snapshot: ProductSnapshot) -> VariantAxes | str:
    """The variant types of a product with their values, or why its variants cannot map.

    A Rackbeat variant is one option of each type of the product's variation, so every variant
    needs a value of every type, and no two variants may have the same values.
    """
    types = sorted({name for variant in snapshot.variants for name in variant.attributes})
    if not types:
        return (
            "its variants have no variant type: give each variant a variant type and value "
            "in Shopbox (e.g. Størrelse: M)"
        )
    axes: VariantAxes = {name: [] for name in types}
    seen: set[tuple[str, ...]] = set()
    for variant in snapshot.variants:
        missing = [name for name in types if not variant.attributes.get(name)]
        if missing:
            return f"variant {variant.variant_id} has no {missing[0]} value: give it one in Shopbox"
        values = tuple(variant.attributes[name] for name in types)
        if values in seen:
            return _shared_values(types, values)
        seen.add(values)
        for name, value in zip(types, values, strict=True):
            if value not in axes[name]:
                axes[name].append(value)
    return axes


def _shared_values(types: list[str], values: tuple[str, ...]) -> str:
    if len(types) == 1:
        return (
            f"two variants share the {types[0]} value '{values[0]}': give each variant its own "
            f"{types[0]} value in Shopbox"
        )
    shown = ", ".join(f"{name} '{value}'" for name, value in zip(types, values, strict=True))
    return (
        f"two variants share the values {shown}: give each variant its own combination of "
        f"{' and '.join(types)} in Shopbox"
    )

"""Shopbox master: apply one Shopbox product snapshot to Rackbeat and say which bindings follow.

Compare-before-write: the Rackbeat product is read (or taken from a preloaded catalog) and only
the fields that differ are written, with `suppress_webhooks`, so an edit that changes nothing
writes nothing and our writes never come back as Rackbeat changes. A Shopbox product becomes one
Rackbeat product (item number = the product's SKU); its variants become option picks of one
Rackbeat variation with a type per Shopbox variant type (size x colour: two types, a variant is
one option of each), named deterministically so a re-run after a crash reuses it instead of
making another.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from domain.items.ports import RackbeatItems
from domain.items.rules import (
    PriceRules,
    ShopboxRef,
    VariantAxes,
    duplicate_problem,
    problem_binding,
    sellable_skus,
    variant_axes,
    with_sku_fix,
)
from schemas.items import Binding, ProductSnapshot
from services.clients import rackbeat_models as rb

Action = Literal["created", "updated", "unchanged", "skipped"]


@dataclass
class Outcome:
    product_id: str
    item_number: str | None
    action: Action
    changes: list[str] = field(default_factory=list)
    reason: str | None = None
    bindings: list[Binding] = field(default_factory=list)
    writes: int = 0
    fresh: bool = False
    """Created by this apply: its Rackbeat stock is known to be zero, no need to read it."""
    variation: rb.Variation | None = None


class RackbeatCatalog:
    """Rackbeat products and variations, read per call or preloaded once (initial sync)."""

    def __init__(self, client: RackbeatItems) -> None:
        self._client = client
        self._products: dict[str, rb.Product] | None = None
        self._variations: dict[int, rb.Variation] | None = None

    async def preload(self) -> None:
        self._products = {p.number: p async for p in self._client.iter_products(page_size=1000)}
        await self._load_variations()

    async def product(self, number: str) -> rb.Product | None:
        if self._products is not None:
            return self._products.get(number)
        return await self._client.find_product(number)

    def remember(self, product: rb.Product) -> None:
        if self._products is not None:
            self._products[product.number] = product

    async def variation(self, variation_id: int) -> rb.Variation:
        variations = await self._load_variations()
        if variation_id not in variations:
            variations[variation_id] = await self._client.get_variation(variation_id)
        return variations[variation_id]

    async def variation_named(self, name: str) -> rb.Variation | None:
        variations = await self._load_variations()
        return next((v for v in variations.values() if v.name == name), None)

    def remember_variation(self, variation: rb.Variation) -> None:
        if self._variations is not None:
            self._variations[variation.id] = variation

    async def _load_variations(self) -> dict[int, rb.Variation]:
        if self._variations is None:
            self._variations = {v.id: v for v in await self._client.list_variations()}
        return self._variations


def variation_name(snapshot: ProductSnapshot, axes: VariantAxes) -> str:
    return f"{' x '.join(axes)} (Shopbox {snapshot.product_id})"


@dataclass(frozen=True)
class Desired:
    name: str
    description: str | None
    sales_price: Decimal


class RackbeatWriter:
    def __init__(
        self,
        client: RackbeatItems,
        catalog: RackbeatCatalog,
        prices: PriceRules,
        *,
        group: int,
        dry_run: bool = False,
    ) -> None:
        self.client = client
        self.catalog = catalog
        self.prices = prices
        self.group = group
        self.dry_run = dry_run

    async def apply(
        self, snapshot: ProductSnapshot, duplicates: Mapping[str, list[ShopboxRef]]
    ) -> Outcome:
        number = snapshot.sku or ""
        own_problem = with_sku_fix(snapshot.sku, "Shopbox") or (
            duplicate_problem(number, duplicates[number]) if number in duplicates else None
        )
        if own_problem:
            reason = f"the product's own SKU is its Rackbeat item number and {own_problem}"
            return self._skipped(snapshot, reason, duplicates)
        axes = variant_axes(snapshot) if snapshot.variants else None
        if isinstance(axes, str):
            return self._skipped(snapshot, axes, duplicates)
        outcome = Outcome(snapshot.product_id, number, "unchanged")
        current = await self.catalog.product(number)
        if axes is not None:
            variation = await self._ensure_variation(snapshot, axes, current, outcome)
            if isinstance(variation, str):
                return self._skipped(snapshot, variation, duplicates)
            outcome.variation = variation
        await self._write_product(snapshot, current, outcome)
        outcome.bindings = self._bindings(snapshot, outcome, duplicates)
        return outcome

    # ---------------------------------------------------------------------------- product

    def desired(self, snapshot: ProductSnapshot) -> Desired:
        price = self.prices.to_rackbeat(snapshot.price) if snapshot.price is not None else None
        return Desired(snapshot.name, snapshot.description, price or Decimal(0))

    async def _write_product(
        self, snapshot: ProductSnapshot, current: rb.Product | None, outcome: Outcome
    ) -> None:
        want = self.desired(snapshot)
        variation_id = outcome.variation.id if outcome.variation else None
        number = outcome.item_number or ""
        if current is None:
            outcome.action, outcome.fresh, outcome.changes = "created", True, ["new product"]
            outcome.writes += 1
            if self.dry_run:
                return
            created = await self.client.create_product(
                rb.NewProduct(
                    number=number,
                    name=want.name,
                    group=self.group,
                    sales_price=want.sales_price,
                    description=want.description,
                    variation_id=variation_id,
                ),
                suppress_webhooks=True,
            )
            self.catalog.remember(created)
            return
        changes = product_changes(current, want, variation_id)
        if not changes:
            return
        outcome.action = "updated"
        outcome.changes += sorted(changes.model_dump(exclude_unset=True))
        outcome.writes += 1
        if not self.dry_run:
            updated = await self.client.update_product(number, changes, suppress_webhooks=True)
            self.catalog.remember(updated)

    # ---------------------------------------------------------------------------- variation

    async def _ensure_variation(
        self,
        snapshot: ProductSnapshot,
        axes: VariantAxes,
        current: rb.Product | None,
        outcome: Outcome,
    ) -> rb.Variation | str | None:
        """The product's variation with a type per variant type and an option per value
        (created, or extended with the types and options it lacks)."""
        if current is not None and current.variation_id is not None:
            variation: rb.Variation | None = await self.catalog.variation(current.variation_id)
        else:
            variation = await self.catalog.variation_named(variation_name(snapshot, axes))
        if variation is None:
            outcome.writes += 1
            outcome.changes.append(f"new variation {_shown(axes)}")
            if self.dry_run:
                return None
            variation = await self.client.create_variation(variation_name(snapshot, axes), axes)
            self.catalog.remember_variation(variation)
            return variation
        extra = [t.name for t in variation.types if t.name not in axes]
        if extra:
            return (
                f"the Rackbeat variation {variation.id} ({variation.name}) has the type "
                f"{', '.join(extra)}, which no Shopbox variant type matches (Shopbox has "
                f"{', '.join(axes)}): remove that type from the variation in Rackbeat, or rename "
                "the variation there so item-mapper creates its own"
            )
        missing = _missing(variation, axes)
        if not missing:
            return variation
        outcome.writes += sum(len(values) for values in missing.values())
        outcome.changes.append(f"new options {_shown(missing)}")
        if outcome.action == "unchanged":
            outcome.action = "updated"
        if self.dry_run:
            return variation
        variation = await self._extend(variation, missing)
        self.catalog.remember_variation(variation)
        return variation

    async def _extend(self, variation: rb.Variation, missing: VariantAxes) -> rb.Variation:
        """`variation` with the missing types and options added in Rackbeat."""
        types = {t.name: t for t in variation.types}
        for name, values in missing.items():
            vtype = types.get(name) or await self.client.add_variation_type(variation.id, name)
            added = [
                await self.client.add_variation_option(variation.id, vtype.id, value)
                for value in values
            ]
            types[name] = rb.VariationType(
                id=vtype.id, name=vtype.name, options=[*vtype.options, *added]
            )
        return rb.Variation(id=variation.id, name=variation.name, types=list(types.values()))

    # ---------------------------------------------------------------------------- bindings

    def _bindings(
        self,
        snapshot: ProductSnapshot,
        outcome: Outcome,
        duplicates: Mapping[str, list[ShopboxRef]],
    ) -> list[Binding]:
        options = _options_by_name(outcome.variation)
        bindings = []
        for sku, ref in sellable_skus(snapshot):
            problem = _sellable_problem(sku, duplicates)
            if problem:
                bindings.append(_reported(sku, problem, ref, duplicates))
                continue
            assert sku is not None
            picks: list[str] = []
            if ref[1] is not None:
                variant = next(v for v in snapshot.variants if v.variant_id == ref[1])
                found = [options.get((t, value)) for t, value in sorted(variant.attributes.items())]
                if None in found:
                    continue  # dry run: the option does not exist yet
                picks = [str(option) for option in found]
            bindings.append(
                Binding(
                    sku=sku,
                    shopbox_product_id=ref[0],
                    shopbox_variant_id=ref[1],
                    rackbeat_item_number=outcome.item_number,
                    rackbeat_variation_id=str(outcome.variation.id)
                    if outcome.variation and picks
                    else None,
                    rackbeat_option_id=picks[0] if picks else None,
                    rackbeat_option_ids=picks if len(picks) > 1 else [],
                )
            )
        return bindings

    def _skipped(
        self,
        snapshot: ProductSnapshot,
        reason: str,
        duplicates: Mapping[str, list[ShopboxRef]],
    ) -> Outcome:
        bindings = [
            _reported(
                sku, _sellable_problem(sku, duplicates) or f"not synced: {reason}", ref, duplicates
            )
            for sku, ref in sellable_skus(snapshot)
        ]
        return Outcome(snapshot.product_id, None, "skipped", reason=reason, bindings=bindings)


class ItemChanges(rb.ProductChanges):
    """PUT /products fields, plus `variation_id` (the shared write model does not carry it)."""

    variation_id: int | None = None


def product_changes(
    current: rb.Product, want: Desired, variation_id: int | None
) -> ItemChanges | None:
    """Only the fields that differ; None when the product already matches."""
    changes: dict[str, object] = {}
    if current.name != want.name:
        changes["name"] = want.name
    if (current.description or None) != want.description:
        changes["description"] = want.description or ""
    if current.sales_price != want.sales_price:
        changes["sales_price"] = want.sales_price
    if variation_id is not None and current.variation_id != variation_id:
        changes["variation_id"] = variation_id
    return ItemChanges.model_validate(changes) if changes else None


def _sellable_problem(sku: str | None, duplicates: Mapping[str, list[ShopboxRef]]) -> str | None:
    problem = with_sku_fix(sku, "Shopbox")
    if problem is None and sku in duplicates:
        problem = duplicate_problem(sku or "", duplicates[sku or ""])
    return problem


def _reported(
    sku: str | None, problem: str, ref: ShopboxRef, duplicates: Mapping[str, list[ShopboxRef]]
) -> Binding:
    """The problem binding of one sellable. Every holder of a duplicate SKU publishes the same
    record (naming the first holder), or they would overwrite each other on every pass."""
    holders = duplicates.get(sku or "")
    return problem_binding(sku, problem, holders[0] if holders else ref)


def _options_by_name(variation: rb.Variation | None) -> dict[tuple[str, str], int]:
    """Option ids by (type name, option name)."""
    if variation is None:
        return {}
    return {(t.name, option.name): option.id for t in variation.types for option in t.options}


def _missing(variation: rb.Variation, axes: VariantAxes) -> VariantAxes:
    """The types and values of `axes` that `variation` has no option for."""
    have = _options_by_name(variation)
    missing = {name: [v for v in values if (name, v) not in have] for name, values in axes.items()}
    return {name: values for name, values in missing.items() if values}


def _shown(axes: VariantAxes) -> str:
    return "; ".join(f"{name}: {', '.join(values)}" for name, values in axes.items())

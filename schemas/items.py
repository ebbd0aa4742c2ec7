"""Item events: product snapshots of the master side and the SKU bindings every service reads."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import Field

from schemas.envelope import Event, Model


class VariantSnapshot(Model):
    variant_id: str
    sku: str | None
    name: str | None = None
    description: str | None = None
    price: Decimal | None = Field(None, description="kroner, as the source system stores it")
    attributes: dict[str, str] = Field(
        default_factory=dict,
        description="variant type -> value, e.g. {'Størrelse': 'M'} (Shopbox variance values, "
        "Rackbeat variation type -> option)",
    )


class ProductSnapshot(Model):
    """The fields we sync (SKU, name, sales price, description, also on variants), nothing else."""

    system: Literal["shopbox", "rackbeat"]
    product_id: str = Field(description="Shopbox product uid, or Rackbeat item number")
    sku: str | None
    name: str
    description: str | None = None
    price: Decimal | None = Field(None, description="kroner, as the source system stores it")
    variants: list[VariantSnapshot] = Field(default_factory=list)
    deleted: bool = False


class ProductChanged(Event):
    """On `shopbox.products.v1` or `rackbeat.products.v1`, keyed by product id."""

    type: Literal["ProductChanged"] = "ProductChanged"
    payload: ProductSnapshot


class Binding(Model):
    """Links one SKU to its Shopbox product/variant and its Rackbeat item/variation option."""

    sku: str
    shopbox_product_id: str | None = None
    shopbox_variant_id: str | None = None
    rackbeat_item_number: str | None = None
    rackbeat_variation_id: str | None = None
    rackbeat_option_id: str | None = None
    rackbeat_option_ids: list[str] = Field(
        default_factory=list,
        description="a variant of a variation with several types (size x colour): its option of "
        "each type; empty when `rackbeat_option_id` is the variant's only option",
    )
    problem: str | None = Field(None, description="why the SKU is never matched, if it is not")
    stock_copied_at: datetime | None = Field(
        None,
        description="when item-mapper read the Shopbox stock it copied into the item it created "
        "for this SKU: a sale made before then is already in the item's figure; None when the "
        "figure was never copied (and on bindings published before the field existed)",
    )

    def option_ids(self) -> list[str]:
        """Every Rackbeat option the variant is, one per variation type."""
        if self.rackbeat_option_ids:
            return list(self.rackbeat_option_ids)
        return [self.rackbeat_option_id] if self.rackbeat_option_id else []

    def variant_key(self) -> str | None:
        """The variant's options as one key (`variant_key`), as stock levels name them."""
        return variant_key(self.option_ids())


def variant_key(option_ids: Iterable[str | int]) -> str | None:
    """One Rackbeat variant's options, one per variation type, as one key: the ids in numeric
    order joined by '+' (a single option is just its id); None for no options (no variant)."""
    ids = sorted(int(option) for option in option_ids)
    return "+".join(map(str, ids)) or None


class BindingChanged(Event):
    """On `items.bindings.v1` (compacted, keyed by SKU)."""

    type: Literal["BindingChanged"] = "BindingChanged"
    payload: Binding

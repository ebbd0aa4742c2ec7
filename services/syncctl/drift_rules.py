"""`syncctl drift`: the comparison and the labels, plain and Kafka-free (unit-tested).

Each difference between Shopbox and Rackbeat gets the most probable cause:
- `unmapped`: no usable binding (a binding with a problem, a side missing), so the sync never
  tried;
- `pending-sales`: explained by sales in flight (in the sales stream, not booked in Rackbeat
  yet). Not a drift: it settles by itself;
- `dead-letter`: the record that would fix it waits in a dead-letter topic, with its reason;
- `missing-item`: a bound item is gone on one side (deleted by hand): the binding points at
  nothing, so the sync cannot write it. Restore the item or fix the SKU in the master;
- `manual-edit-or-missed-event`: anything else (someone edited the other side by hand, or an
  event was lost). The only unexplained cause: it makes the report fail (exit code 1);
- `error`: an API call failed, so that part was not checked (exit code 2: report incomplete).

The rules reuse the services' own: item-mapper's price conversion and field comparison
(services/item_mapper), stock-publisher's target figure (domain.stock.levels.py) and
order-ingest's "does the ledger show the effect this basket needs" (sweep_plan.py).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal

from domain.items.rules import PriceRules, rackbeat_snapshot, shopbox_snapshot
from domain.items.to_rackbeat import Desired, product_changes
from domain.items.to_shopbox import shopbox_changes
from domain.sales.sweep import needs_republish
from domain.stock.levels import QuantityMode, target_quantity
from schemas.items import Binding, VariantSnapshot
from schemas.orders import OrderOutcome
from schemas.stock import StockLevel
from services.clients import rackbeat_models as rb
from services.clients import shopbox as sb

Cause = Literal[
    "unmapped",
    "missing-item",
    "pending-sales",
    "dead-letter",
    "manual-edit-or-missed-event",
    "error",
]
Section = Literal["items", "stock", "sales"]
CAUSES: tuple[Cause, ...] = (
    "unmapped",
    "missing-item",
    "pending-sales",
    "dead-letter",
    "manual-edit-or-missed-event",
    "error",
)
UNEXPLAINED: Cause = "manual-edit-or-missed-event"
ERROR: Cause = "error"
MISSING: Cause = "missing-item"
ZERO = Decimal(0)


@dataclass(frozen=True)
class Difference:
    section: Section
    subject: str
    """SKU, SKU@branch or basket uid."""
    field: str
    expected: str
    """What the sync should have made of it (the master's value, the figure to push, ...)."""
    actual: str
    cause: Cause
    reason: str


@dataclass(frozen=True)
class NegativeStock:
    """A bound spot whose Rackbeat stock is below zero. Not a difference (Shopbox shows 0 on
    purpose: stock-publisher never writes negative stock), but a figure to correct by a count;
    the initial sync copies negative Shopbox figures to Rackbeat as they are."""

    sku: str
    location: int
    rackbeat: str
    shopbox: str


@dataclass
class DriftReport:
    differences: list[Difference] = field(default_factory=list)
    negative_stock: list[NegativeStock] = field(default_factory=list)
    checked: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, dict[str, int]]:
        counts: dict[str, dict[str, int]] = {s: dict.fromkeys(CAUSES, 0) for s in SECTIONS}
        for diff in self.differences:
            counts[diff.section][diff.cause] += 1
        return counts

    @property
    def unexplained(self) -> int:
        return sum(1 for d in self.differences if d.cause == UNEXPLAINED)

    @property
    def errors(self) -> int:
        return sum(1 for d in self.differences if d.cause == ERROR)

    @property
    def exit_code(self) -> int:
        """2: incomplete (an API call failed; wins, since unchecked parts may hide drift),
        1: unexplained drift, 0: everything found is explained."""
        if self.errors:
            return 2
        return 1 if self.unexplained else 0


def error_difference(section: Section, subject: str, what: str, exc: Exception) -> Difference:
    """An API call failed: `what` was not checked. The message names the call (no secrets:
    ApiError redacts them)."""
    return Difference(
        section, subject, what, "checked", "not checked", ERROR, f"{type(exc).__name__}: {exc}"
    )


def missing_item_difference(section: Section, binding: Binding, side: str) -> Difference:
    """A bound item the API answers 404 for: the binding points at something deleted."""
    name = (
        f"Rackbeat item {binding.rackbeat_item_number}"
        if side == "Rackbeat"
        else f"Shopbox product {binding.shopbox_product_id}"
    )
    return Difference(
        section,
        binding.sku,
        "product",
        name,
        f"not found in {side}",
        MISSING,
        MISSING_WHY,
    )


MISSING_WHY = "a bound product is gone on one side (deleted by hand?): restore it or fix the SKU"


SECTIONS: tuple[Section, ...] = ("items", "stock", "sales")


def show(value: object) -> str:
    return "(none)" if value is None or value == "" else str(value)


def units(quantity: Decimal) -> str:
    """Shopbox sends 35.0 where Rackbeat sends 35: print both alike."""
    if quantity == quantity.to_integral_value():
        return str(quantity.quantize(Decimal(1)))
    return str(quantity.normalize())


# ------------------------------------------------------------------------------------ items


@dataclass(frozen=True)
class ItemPair:
    """One bound product as both sides have it now (None when a side does not have it)."""

    bindings: list[Binding]
    shopbox: sb.Product | None
    rackbeat: rb.Product | None
    variation: rb.Variation | None = None


def problem_differences(bindings: Iterable[Binding]) -> list[Difference]:
    """Bindings item-mapper reported as never matched: the SKU is not synced at all."""
    return [
        Difference("items", b.sku, "binding", "a usable SKU", b.sku, "unmapped", b.problem or "")
        for b in bindings
        if b.problem
    ]


def item_differences(
    pair: ItemPair, master: Literal["shopbox", "rackbeat"], prices: PriceRules
) -> list[tuple[str, str, str]]:
    """(field, master's value converted to the other side, other side's value) that differ."""
    if pair.shopbox is None or pair.rackbeat is None:
        return [_missing_side(pair)]
    if master == "shopbox":
        return _rackbeat_follows(pair.shopbox, pair.rackbeat, pair, prices)
    return _shopbox_follows(pair.shopbox, pair.rackbeat, pair.variation, prices)


def _missing_side(pair: ItemPair) -> tuple[str, str, str]:
    first = pair.bindings[0]
    if pair.shopbox is None:
        return ("product", f"Shopbox product {first.shopbox_product_id}", "not found in Shopbox")
    return ("product", f"Rackbeat item {first.rackbeat_item_number}", "not found in Rackbeat")


def _rackbeat_follows(
    shopbox: sb.Product, rackbeat: rb.Product, pair: ItemPair, prices: PriceRules
) -> list[tuple[str, str, str]]:
    snapshot = shopbox_snapshot(shopbox)
    price = prices.to_rackbeat(snapshot.price) if snapshot.price is not None else None
    want = Desired(snapshot.name, snapshot.description, price or ZERO)
    variation_ids = {b.rackbeat_variation_id for b in pair.bindings if b.rackbeat_variation_id}
    bound_variation = int(next(iter(variation_ids))) if len(variation_ids) == 1 else None
    changes = product_changes(rackbeat, want, bound_variation)
    found: list[tuple[str, str, str]] = []
    if changes is not None:
        for name, value in sorted(changes.model_dump(exclude_unset=True).items()):
            found.append((name, show(value), show(getattr(rackbeat, name))))
    found.extend(_option_differences(snapshot.variants, pair))
    return found


def _option_differences(
    variants: Iterable[VariantSnapshot], pair: ItemPair
) -> list[tuple[str, str, str]]:
    """Each variant binding must point at options of the Rackbeat product's variation whose
    names are the Shopbox variant's values (one per variant type)."""
    by_id = {v.variant_id: v for v in variants}
    options: dict[str, tuple[str, str]] = {}
    if pair.variation is not None:
        options = {str(o.id): (t.name, o.name) for t in pair.variation.types for o in t.options}
    found = []
    for binding in pair.bindings:
        if not binding.option_ids() or binding.shopbox_variant_id is None:
            continue
        variant = by_id.get(binding.shopbox_variant_id)
        if variant is None:
            found.append((f"variant {binding.sku}", "variant in Shopbox", "not found in Shopbox"))
            continue
        picked = dict(options.get(option, ("?", "(none)")) for option in binding.option_ids())
        if sorted(picked.values()) != sorted(variant.attributes.values()):
            shown = (_values(variant.attributes), _values(picked))
            found.append((f"variant {binding.sku} option", *shown))
    return found


def _values(attributes: Mapping[str, str]) -> str:
    """A variant's values by type, as 'Farve: Rød, Størrelse: M' (one type: just its value)."""
    if len(attributes) == 1:
        return show(next(iter(attributes.values())))
    return ", ".join(f"{name}: {value}" for name, value in sorted(attributes.items())) or "(none)"


def _shopbox_follows(
    shopbox: sb.Product,
    rackbeat: rb.Product,
    variation: rb.Variation | None,
    prices: PriceRules,
) -> list[tuple[str, str, str]]:
    snapshot = rackbeat_snapshot(rackbeat, variation)
    price = prices.to_shopbox(snapshot.price) if snapshot.price is not None else None
    upsert, _ = shopbox_changes(shopbox, snapshot, price)
    if upsert is None:
        return []
    found = [
        (name, show(value), show(getattr(shopbox, name)))
        for name, value in sorted(upsert.model_dump(exclude_none=True, exclude={"uid"}).items())
        if name != "variants"
    ]
    current = {v.uid: v for v in shopbox.product_variances}
    for variant in upsert.variants or []:
        now = current.get(variant.uid or "")
        for name in ("selling_price", "description"):
            value = getattr(variant, name)
            if value is not None:
                have = getattr(now, name) if now else None
                found.append((f"variant {variant.uid} {name}", show(value), show(have)))
    return found


def item_cause(pair: ItemPair, dead_letter_reason: str | None) -> tuple[Cause, str]:
    """Why a bound product differs: its master event waits in the dead letters, or else it was
    edited by hand on the other side (or the edit event was missed)."""
    if dead_letter_reason is not None:
        return "dead-letter", dead_letter_reason
    if pair.shopbox is None or pair.rackbeat is None:
        return MISSING, MISSING_WHY
    return UNEXPLAINED, "the other side was edited by hand, or the master's change was missed"


# ------------------------------------------------------------------------------------ stock


@dataclass(frozen=True)
class StockSpotReading:
    """One bound SKU in one mapped branch: both figures and what is in flight for it."""

    sku: str
    branch: str
    location: int
    shopbox: Decimal
    rackbeat: StockLevel
    buffer: Decimal = ZERO
    pending: Decimal = ZERO
    """Sales Rackbeat had not absorbed when it was read (stock-publisher's own count)."""
    pending_dead_lettered: Decimal = ZERO
    """The part of `pending` from baskets that wait in the sales dead letters."""
    dead_letter_reasons: tuple[str, ...] = ()
    """Why those baskets (or this stock record) were dead-lettered."""
    unsettled: bool = False
    """Rackbeat absorbed a sale for this spot after the read began (the read is ambiguous)."""


def stock_difference(reading: StockSpotReading, mode: QuantityMode) -> Difference | None:
    """A row when Shopbox differs from Rackbeat's figure, or from the figure stock-publisher
    would push (Rackbeat's minus buffer minus pending sales); None when both agree."""
    level, buffer = reading.rackbeat, reading.buffer
    plain = target_quantity(level, mode=mode, buffer=buffer, pending_sales=ZERO).quantity
    expected = target_quantity(
        level, mode=mode, buffer=buffer, pending_sales=reading.pending
    ).quantity
    if reading.shopbox == plain and reading.shopbox == expected:
        return None
    base = level.available_quantity if mode == "available" else level.stock_quantity
    arithmetic = (
        f"Rackbeat {mode} {units(base)} - buffer {units(buffer)} - pending {units(reading.pending)}"
    )
    cause, why = _stock_cause(reading, mode, expected)
    return Difference(
        "stock",
        f"{reading.sku}@{reading.branch}",
        f"quantity (location {reading.location})",
        units(expected),
        units(reading.shopbox),
        cause,
        f"{why} [{arithmetic}]",
    )


def negative_stock(reading: StockSpotReading) -> NegativeStock | None:
    figure = reading.rackbeat.stock_quantity
    if figure >= 0:
        return None
    return NegativeStock(reading.sku, reading.location, units(figure), units(reading.shopbox))


def _stock_cause(
    reading: StockSpotReading, mode: QuantityMode, expected: Decimal
) -> tuple[Cause, str]:
    if reading.shopbox == expected:
        live = target_quantity(
            reading.rackbeat,
            mode=mode,
            buffer=reading.buffer,
            pending_sales=reading.pending - reading.pending_dead_lettered,
        ).quantity
        if live != expected and reading.dead_letter_reasons:
            return "dead-letter", "a sale waits in the dead letters: " + _reasons(reading)
        return "pending-sales", "sales in flight, not yet booked in Rackbeat"
    if reading.unsettled:
        return "pending-sales", "Rackbeat booked a sale while it was read; run again"
    if reading.dead_letter_reasons:
        return "dead-letter", _reasons(reading)
    return UNEXPLAINED, "Shopbox stock was edited by hand, or a Rackbeat change was missed"


def _reasons(reading: StockSpotReading) -> str:
    return "; ".join(sorted(set(reading.dead_letter_reasons)))


# ------------------------------------------------------------------------------------ sales


def last_touched(basket: sb.Basket) -> datetime:
    """Creation, or for a cancelled basket its last change (the cancellation), if known."""
    if (
        basket.canceled
        and basket.updated_at is not None
        and basket.updated_at > basket.creation_time
    ):
        return datetime.fromtimestamp(basket.updated_at, tz=basket.created_at.tzinfo)
    return basket.created_at


def needed_event(basket: sb.Basket) -> str:
    if basket.is_refund:
        return "SaleRefunded"
    return "SaleCancelled" if basket.canceled else "SaleCompleted"


def unbound_lines(basket: sb.Basket, is_bound: Callable[[sb.BasketItem], bool]) -> list[str]:
    """SKUs (or product ids) of the basket's product lines without a usable binding."""
    return [
        item.sku_code or item.product or "?"
        for item in basket.basket_items
        if item.product is not None and not is_bound(item)
    ]


@dataclass(frozen=True)
class BasketFacts:
    basket: sb.Basket
    outcome: OrderOutcome | None
    """The ledger's outcome for it (orders.synced.v1), None if it has none."""
    streamed: frozenset[str] = frozenset()
    """Event types of this basket on shopbox.sales.v1 (SaleCompleted, ...)."""
    dead_letter_reason: str | None = None
    unbound: tuple[str, ...] = ()
    branch_unmapped: bool = False


def basket_difference(facts: BasketFacts, now: datetime, grace: timedelta) -> Difference | None:
    """A row for a basket whose ledger entry lacks the effect it needs (same rule as the sweep)."""
    basket = facts.basket
    if not needs_republish(basket, facts.outcome, dead_lettered=False):
        return None
    wanted = needed_event(basket)
    expected = {"SaleRefunded": "refunded", "SaleCancelled": "cancelled"}.get(wanted, "created")
    cause, why = _basket_cause(facts, wanted, now, grace)
    return Difference(
        "sales",
        basket.uid,
        "order",
        f"ledger: {expected}",
        f"ledger: {show(facts.outcome)}",
        cause,
        why,
    )


def _basket_cause(
    facts: BasketFacts, wanted: str, now: datetime, grace: timedelta
) -> tuple[Cause, str]:
    if facts.dead_letter_reason is not None:
        return "dead-letter", facts.dead_letter_reason
    if facts.unbound:
        return "unmapped", "no binding for " + ", ".join(facts.unbound)
    if facts.branch_unmapped:
        return "unmapped", f"branch {facts.basket.branch} not in SYNC_BRANCH_LOCATIONS"
    if wanted in facts.streamed:
        return "pending-sales", f"{wanted} is on shopbox.sales.v1; order-writer has not recorded it"
    if now - last_touched(facts.basket) < grace:
        return "pending-sales", "newer than the grace period; order-ingest may not have seen it"
    return UNEXPLAINED, f"no {wanted} on shopbox.sales.v1: the webhook, poll and sweep missed it"

"""The pure half of the stock reconciliation: where a Shopbox figure is, which differ from
their target, and which must be left alone in this pass. Plain and unit-tested; the pass
itself (reads, the pusher's lock, writes) is `services.stock_publisher.reconcile`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from schemas.stock import StockObserved

ZERO = Decimal(0)
Figures = Mapping[str, Mapping[tuple[str, str | None], Decimal]]
"""Shopbox's figure per branch and (product uid, variance uid or None)."""


@dataclass(frozen=True)
class Place:
    sku: str
    branch: str
    product: str
    variant: str | None

    @property
    def ref(self) -> tuple[str, str | None]:
        """Where Shopbox keeps this figure in a branch: (product uid, variance uid or None)."""
        return (self.product, self.variant)


@dataclass(frozen=True)
class Correction:
    key: str
    event: StockObserved
    place: Place
    before: Decimal | None
    """Shopbox's figure; None when Shopbox lists no row for it (read as 0)."""
    target: Decimal

    @property
    def drift(self) -> Decimal:
        """How far Shopbox is off: positive when it shows more than it should (oversell risk)."""
        return (self.before if self.before is not None else ZERO) - self.target


def skip_reason(
    *,
    waiting: bool,
    newer_applied: bool,
    written_meanwhile: bool,
    sale_in_transit: bool,
) -> str | None:
    """Why a place must not be corrected in this pass, or None."""
    if waiting:
        return "write_pending"
    if newer_applied:
        return "table_behind"
    if written_meanwhile:
        return "written_meanwhile"
    if sale_in_transit:
        return "sale_in_transit"
    return None


def plan_corrections(
    observations: Iterable[tuple[str, StockObserved]],
    targets: Callable[[StockObserved], list[tuple[Place, Decimal]]],
    figures: Figures,
    skip: Callable[[str, StockObserved, Place], str | None],
) -> tuple[list[Correction], Counter[str]]:
    """The places whose Shopbox figure differs from their target; and counts of skipped ones."""
    corrections: list[Correction] = []
    skipped: Counter[str] = Counter()
    for key, event in observations:
        for place, target in targets(event):
            branch = figures.get(place.branch)
            if branch is None:
                continue  # not read in this pass
            before = branch.get(place.ref)
            if (before if before is not None else ZERO) == target:
                continue
            reason = skip(key, event, place)
            if reason:
                skipped[reason] += 1
                continue
            corrections.append(Correction(key, event, place, before, target))
    return corrections, skipped

"""Periodic reconciliation: put back Shopbox figures that drifted from what we would push.

A hand edit in Shopbox (or a write lost some other way) is otherwise only corrected by the next
Rackbeat change of that key. Every `STOCK_RECONCILE_INTERVAL_S` (0 = off) a pass:
1. reads Shopbox's current figure of every product/variant in every mapped branch, then the
   Shopbox baskets our sales stream has not delivered yet (their stock effect is in Shopbox and
   not in our figure: those places are left alone, or we would undo a sale);
2. under the pusher's lock, computes for the latest observation of every key in the compacted
   `rackbeat.stock.v1` table the same target a push would (buffer, pending sales, held while
   unsettled), and writes each difference through the pusher's write (recorded on
   `stock.pushed.v1` with cause `reconcile <observation id>`), logging the drift and its size.
Keys the pusher is about to write, has written since the read began, or knows a newer value of
are skipped: their figure is in motion, and the next pass sees it settled.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import timedelta
from typing import Protocol

from domain.sales.baskets import UnusableBasket, to_sale
from domain.stock.pending import PendingSales, StockSpot
from domain.stock.reconcile import Correction, Place, plan_corrections, skip_reason
from schemas.envelope import utcnow
from schemas.stock import StockObserved
from services.clients.http import ApiError
from services.clients.shopbox import Basket
from services.common.logging import get_logger
from services.common.periodic import every
from services.stock_publisher.push import Pusher, ShopboxFigures

log = get_logger(__name__)


class ShopboxSales(ShopboxFigures, Protocol):
    def iter_baskets(
        self, *, since: int | None = ..., per_page: int = ...
    ) -> AsyncIterator[Basket]: ...


class Observations(Protocol):
    """The latest observation per key (`CompactedView` of `rackbeat.stock.v1`)."""

    def items(self) -> Iterable[tuple[str, StockObserved]]: ...


class Reconciler:
    def __init__(
        self,
        pusher: Pusher,
        observations: Observations,
        shopbox: ShopboxSales,
        pending: PendingSales,
        branch_locations: dict[str, int],
        *,
        sales_lookback: timedelta,
        counters: Counter[str],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._pusher = pusher
        self._observations = observations
        self._shopbox = shopbox
        self._pending = pending
        self._branches = sorted(branch_locations)
        self._locations = branch_locations
        self._lookback = sales_lookback
        self._counters = counters
        self._clock = clock

    async def run(self, interval_s: float) -> None:
        def failed(_: Exception) -> None:
            self._counters["reconcile_failures"] += 1

        await every(interval_s, self.once, name="reconciliation", wait_first=True, on_error=failed)

    async def once(self) -> list[Correction]:
        began = self._clock()
        figures = {
            branch: {
                (row.product_uid, row.product_variance): row.quantity
                async for row in self._shopbox.iter_stock(branch)
            }
            for branch in self._branches
        }
        in_transit = await self._sales_in_transit()

        def skip(key: str, event: StockObserved, place: Place) -> str | None:
            applied = self._pusher.buffer.applied_at(key)
            return skip_reason(
                waiting=self._pusher.buffer.waiting(key),
                newer_applied=applied is not None and applied > event.observed_at,
                written_meanwhile=self._pusher.written_since(place, began),
                sale_in_transit=(place.sku, self._locations[place.branch]) in in_transit,
            )

        async with self._pusher.lock:
            corrections, skipped = plan_corrections(
                self._observations.items(),
                lambda event: self._pusher.targets(event, counting=False),
                figures,
                skip,
            )
            corrected = [c for c in corrections if await self._correct(c)]
        self._counters["reconcile_passes"] += 1
        self._counters["drifts_corrected"] += len(corrected)
        for reason, count in skipped.items():
            self._counters[f"reconcile_skipped_{reason}"] += count
        log.info(
            "reconciliation pass",
            drifts=len(corrections),
            corrected=len(corrected),
            skipped=dict(skipped),
            seconds=round(self._clock() - began, 3),
        )
        return corrected

    async def _correct(self, correction: Correction) -> bool:
        place = correction.place
        log.warning(
            "stock drift in Shopbox; correcting",
            sku=place.sku,
            branch=place.branch,
            shopbox=str(correction.before),
            target=str(correction.target),
            drift=str(correction.drift),
        )
        try:
            await self._pusher.write(
                place, correction.target, correction.before, correction.event, reason="reconcile"
            )
        except ApiError as exc:
            self._counters["reconcile_write_failures"] += 1
            log.warning("correction failed; next pass tries again", sku=place.sku, error=str(exc))
            return False
        self._pusher.buffer.mark_applied(correction.key, correction.event.observed_at)
        return True

    async def _sales_in_transit(self) -> set[StockSpot]:
        since = self._pending.sales_window_start(utcnow(), self._lookback)
        spots: set[StockSpot] = set()
        async for basket in self._shopbox.iter_baskets(since=int(since.timestamp())):
            try:
                sale = to_sale(basket)
            except UnusableBasket:
                continue
            spots.update(self._pending.unseen_spots(sale, basket.canceled))
        if spots:
            log.info("sales not yet received; those places wait", spots=len(spots))
        return spots

"""Shopbox sales that Rackbeat has not absorbed yet, per SKU and location (promise 6).

A basket changes Shopbox stock the moment it is sold; Rackbeat's figure changes only when
order-writer has booked the order (a draft reserves nothing). The ledger (`orders.synced.v1`)
says when that happened (`synced_at`, stamped after the Rackbeat write returned). For an
observation read from Rackbeat at time t, a basket is still pending unless the ledger says its
booked order existed at or before t.

A ledger entry later than t makes the observation ambiguous: the read may or may not include
that order. `unsettled()` reports this, and the pusher then holds the write until a fresh read
(requested when the ledger entry arrives) is available. That is what keeps Shopbox from
flapping: no double subtraction, and no "old" Rackbeat figure that forgets a sale.

A void is anticipated only briefly: for `VOID_RELEASE` after it, while order-writer cancels
the order, the figure is Rackbeat's plus the voided units (what the till shows; nothing dips).
After that, while the ledger still says the order reserves, the figure is Rackbeat's own.
Anticipating for longer would count the units twice once the order is cancelled by hand in
Rackbeat (where the API has no cancel endpoint the ledger never hears of it): an oversell. A
figure that counts a voided basket for good (a stock copy taken after it, with no order left to
release) is always raised by the voided units.

A line whose item's stock was copied from Shopbox after the basket (`stock_copied_at` on its
binding) is held by the copied figure, not by an order: it stays in Rackbeat until order-writer
records that it gave those units back, and only then follows the order like any other sale.

It also remembers which baskets it has seen, so the reconciler can tell a Shopbox basket whose
sales event has not reached us yet (its stock effect is in Shopbox, but not in our figure).

Plain, synchronous and Kafka-free; the sales and ledger followers feed it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from schemas.orders import OrderSynced
from schemas.sales import Sale, SaleCancelled, SaleCompleted, SaleLine, SaleRefunded

ZERO = Decimal(0)
StockSpot = tuple[str, int]
"""(SKU, Rackbeat location number): where a sale line lands in Rackbeat."""

LineResolver = Callable[[SaleLine], str | None]
"""Sale line -> SKU through the bindings, or None when the line is not a bound item."""

CopyCheck = Callable[[SaleLine, datetime], bool]
"""(line, basket time) -> True when the line's item stock was copied from Shopbox after it."""

RESERVING_OUTCOMES = frozenset({"created", "found_existing", "refunded"})
SEEN_MARGIN = timedelta(minutes=5)
"""Baskets created this long before the newest one seen are still checked against Shopbox's
list (sales arrive out of order; clocks differ); `seen` keeps ids for well over that."""
SEEN_KEEP = timedelta(hours=1)
VOID_RELEASE = timedelta(seconds=4)
"""How long a void's units are counted as released before the ledger says the order is."""


@dataclass
class Basket:
    quantities: dict[StockSpot, Decimal] = field(default_factory=dict)
    cancelled: bool = False
    cancelled_at: datetime | None = None
    ledger: list[tuple[datetime, bool, bool]] = field(default_factory=list)
    """(when, does Rackbeat hold this basket's effect from then on, were the units a copied
    figure counted given back), in time order."""
    copied: set[StockSpot] = field(default_factory=set)
    """Spots whose copied figure already counts this basket."""

    def in_rackbeat(self, at: datetime, spot: StockSpot) -> bool:
        held = spot in self.copied
        given_back = spot not in self.copied
        for when, reserves, returned in self.ledger:
            if when <= at:
                given_back = given_back or returned
                held = reserves if given_back else True
        return held

    def releasing(self, at: datetime) -> bool:
        """Voided moments before `at`: order-writer is still cancelling the order."""
        return self.cancelled_at is not None and at - self.cancelled_at < VOID_RELEASE

    def order_reserves(self, at: datetime) -> bool:
        """Does the newest ledger record at or before `at` say a booked order reserves?"""
        reserving = [reserves for when, reserves, _ in self.ledger if when <= at]
        return bool(reserving) and reserving[-1]

    def changes_after(self, at: datetime) -> bool:
        return any(when > at for when, _, _ in self.ledger)

    def last_change(self) -> datetime | None:
        return self.ledger[-1][0] if self.ledger else None


class PendingSales:
    def __init__(
        self,
        branch_locations: dict[str, int],
        resolve_sku: LineResolver,
        copied_after: CopyCheck | None = None,
    ) -> None:
        self._locations = branch_locations
        self._resolve = resolve_sku
        self._copied_after = copied_after
        self._baskets: dict[str, Basket] = {}
        self._by_spot: dict[StockSpot, set[str]] = defaultdict(set)
        self._seen: dict[str, datetime] = {}
        """Every basket a sale or refund event told us about, with its creation time."""
        self.latest_sale: datetime | None = None
        self.unmapped_lines = 0

    # ------------------------------------------------------------------ feeding

    def on_sale(self, event: SaleCompleted | SaleRefunded | SaleCancelled) -> list[StockSpot]:
        """Apply one sales event; return the spots whose pending figure changed."""
        if isinstance(event, SaleCancelled):
            basket = self._baskets.get(event.payload.basket_id)
            if basket is None:
                return []
            basket.cancelled = True
            basket.cancelled_at = event.payload.cancelled_at
            return list(basket.quantities)
        sale = event.payload
        self._seen[sale.basket_id] = sale.created_at
        if self.latest_sale is None or sale.created_at > self.latest_sale:
            self.latest_sale = sale.created_at
        if isinstance(event, SaleRefunded):
            # Restocking is the warehouse's business (docs/sales.md): the units the till added
            # back are never pending, so the figure stays Rackbeat's and the push takes them
            # off Shopbox again (a refund never inflates stock).
            return self.spots_of(sale)
        basket = self._baskets.setdefault(sale.basket_id, Basket())
        if basket.quantities:  # a redelivered or re-polled sale: same basket, same lines
            return []
        location = self._locations.get(sale.branch_id)
        for line in sale.lines:
            sku = self._resolve(line)
            if sku is None or location is None:
                self.unmapped_lines += 1
                continue
            spot = (sku, location)
            basket.quantities[spot] = basket.quantities.get(spot, ZERO) + line.quantity
            if self._copied_after is not None and self._copied_after(line, sale.created_at):
                basket.copied.add(spot)
            self._by_spot[spot].add(sale.basket_id)
        return list(basket.quantities)

    def on_ledger(self, basket_id: str, event: OrderSynced | None) -> list[StockSpot]:
        """Apply one ledger record; return the spots that now need a fresh Rackbeat read."""
        if event is None:
            return []
        record = event.payload
        reserves = record.booked and record.outcome in RESERVING_OUTCOMES
        basket = self._baskets.setdefault(basket_id, Basket())
        entry = (record.synced_at, reserves, record.stock_returned)
        if entry in basket.ledger:
            return []
        basket.ledger.append(entry)
        basket.ledger.sort()
        return list(basket.quantities)

    # ------------------------------------------------------------------ queries

    def pending(self, spot: StockSpot, observed_at: datetime) -> Decimal:
        """Units sold in Shopbox that the Rackbeat figure read at `observed_at` does not show."""
        total = ZERO
        for basket_id in self._by_spot.get(spot, ()):
            basket = self._baskets[basket_id]
            in_rackbeat = basket.in_rackbeat(observed_at, spot)
            if not basket.cancelled and not in_rackbeat:
                total += basket.quantities[spot]  # sold, not in Rackbeat's figure yet
            elif basket.cancelled and in_rackbeat and not basket.order_reserves(observed_at):
                total -= basket.quantities[spot]  # voided, yet a copied figure counts it for good
            elif basket.cancelled and in_rackbeat and basket.releasing(observed_at):
                total -= basket.quantities[spot]  # voided just now: the order is being cancelled
        return total

    def unsettled(self, spot: StockSpot, observed_at: datetime) -> bool:
        """True when Rackbeat absorbed (or released) a sale for `spot` after that read began."""
        return any(self._baskets[b].changes_after(observed_at) for b in self._by_spot.get(spot, ()))

    def sales_window_start(self, now: datetime, lookback: timedelta) -> datetime:
        """From when Shopbox's baskets must be compared with what we have seen: shortly before
        the newest sale seen, or the whole lookback when none was (quiet shop, or an outage)."""
        if self.latest_sale is None:
            return now - lookback
        return self.latest_sale - SEEN_MARGIN

    def unseen_spots(self, sale: Sale, cancelled: bool) -> list[StockSpot]:
        """Spots a Shopbox basket has changed that our figures do not know of yet: a sale (or
        refund) whose event has not arrived, or a cancellation whose event has not arrived."""
        if sale.basket_id in self._seen:
            basket = self._baskets.get(sale.basket_id)
            if not (cancelled and basket is not None and not basket.cancelled):
                return []
        return self.spots_of(sale)

    def spots_of(self, sale: Sale) -> list[StockSpot]:
        """The bound (SKU, location) spots a basket's lines touch."""
        location = self._locations.get(sale.branch_id)
        if location is None:
            return []
        skus = {sku for line in sale.lines if (sku := self._resolve(line)) is not None}
        return sorted((sku, location) for sku in skus)

    def prune(self, older_than: datetime) -> int:
        """Forget baskets whose last ledger change is older than `older_than` and that are
        settled for good (in both systems, or in neither)."""
        gone = []
        for basket_id, basket in self._baskets.items():
            last = basket.last_change()
            if last is None or last >= older_than:
                continue
            settled = (
                basket.in_rackbeat(last, s) == (not basket.cancelled) for s in basket.quantities
            )
            if all(settled):
                gone.append(basket_id)
        for basket_id in gone:
            for spot in self._baskets.pop(basket_id).quantities:
                self._by_spot[spot].discard(basket_id)
        if self.latest_sale is not None:
            horizon = self.latest_sale - SEEN_KEEP
            for basket_id in [b for b, created in self._seen.items() if created < horizon]:
                del self._seen[basket_id]
        return len(gone)

    def __len__(self) -> int:
        return len(self._baskets)


def prune_horizon(now: datetime, keep: timedelta = timedelta(minutes=10)) -> datetime:
    return now - keep

"""Stock of a product item-mapper has just created in Rackbeat: copied from Shopbox before binding.

A Rackbeat item starts at 0. Once it is bound, stock-publisher (Rackbeat is the stock master)
would write that 0 to Shopbox, wiping the product's real stock. So when the Shopbox-master
applier CREATES an item (never on updates: after that, Rackbeat owns the figure), the product's
current Shopbox stock per branch and variant is copied to the mapped locations with the initial
sync's code (stock_copy.py), and only then is the binding published. The binding carries when
the copied listing was read (`stock_copied_at`): a sale made before then is in the copied figure,
so order-writer gives back what its order takes off a second time (domain/sales/stock_returns.py).

Shopbox lists stock per branch only (no per-product filter), so the listings are cached and
reused for every creation observed before they were read: a burst of new products (a first run)
costs one listing per branch, and a figure is never older than the snapshot that caused the create.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime

import structlog

from domain.items.ports import RackbeatStock, ShopboxStock
from domain.items.stock_copy import (
    StockTarget,
    StockWrite,
    copy_stock,
    negative_figures,
    stock_by_location,
    stock_targets,
)
from domain.items.to_rackbeat import Outcome
from schemas.envelope import utcnow
from schemas.items import Binding, ProductSnapshot
from services.clients.shopbox import InventoryRow

log = structlog.get_logger(__name__)


class ShopboxStockListings:
    """Every branch's stock listing, re-read when older than the observation asking for it."""

    def __init__(self, client: ShopboxStock) -> None:
        self._client = client
        self._lock = asyncio.Lock()
        self._rows: dict[str, list[InventoryRow]] = {}
        self._read_at: datetime | None = None
        self.reads = 0

    async def rows_by_branch(
        self, observed_at: datetime
    ) -> tuple[dict[str, list[InventoryRow]], datetime]:
        """Every branch's rows, and when their reading began (every sale before is in them)."""
        async with self._lock:
            if self._read_at is None or self._read_at < observed_at:
                read_at = utcnow()
                rows = {}
                for branch in await self._client.branches():
                    rows[branch.uid] = [
                        row async for row in self._client.iter_stock(branch.uid, per_page=1000)
                    ]
                self._rows, self._read_at = rows, read_at
                self.reads += 1
            return self._rows, self._read_at


class NewItemStock:
    """Copies a created item's Shopbox stock into Rackbeat; remembers unmapped branches."""

    def __init__(
        self,
        listings: ShopboxStockListings,
        rackbeat: RackbeatStock,
        branch_locations: Mapping[str, int],
    ) -> None:
        self._listings = listings
        self._rackbeat = rackbeat
        self._branch_locations = dict(branch_locations)
        self._locations = sorted(set(branch_locations.values()))
        self.unmapped_branches: set[str] = set()
        self.writes = 0
        self.negative: dict[tuple[str, int], StockTarget] = {}
        """(SKU, location) -> the negative figure copied there (docs/items.md)."""
        self._pending: set[str] = set()

    def created(self, outcome: Outcome) -> None:
        """Mark an item whose stock is still to copy (kept across retries of the same event)."""
        if outcome.action == "created" and outcome.item_number:
            self._pending.add(outcome.item_number)

    async def copy_if_created(
        self, snapshot: ProductSnapshot, outcome: Outcome, observed_at: datetime
    ) -> list[StockWrite]:
        self.created(outcome)
        number = outcome.item_number
        if number is None or number not in self._pending:
            return []
        if not self._locations:
            self._pending.discard(number)
            log.warning(
                "SYNC_BRANCH_LOCATIONS is empty: stock of a new item not copied", item=number
            )
            return []
        rows, read_at = await self._listings.rows_by_branch(observed_at)
        stock, unmapped = stock_by_location(rows, self._branch_locations)
        self._report_unmapped(unmapped)
        targets, problems = stock_targets(snapshot, outcome, stock, self._locations)
        for problem in problems:
            log.warning("stock of a new item not copied", problem=problem)
        # Fresh only when created by this very apply; after a retry the item's figure is read.
        writes = await copy_stock(self._rackbeat, targets, fresh=outcome.fresh, dry_run=False)
        self._pending.discard(number)
        outcome.bindings = copied_at(outcome.bindings, {t.sku for t in targets}, read_at)
        self.writes += len(writes)
        self._report_negative(writes)
        if writes:
            log.info("stock of a new item copied from Shopbox", item=number, figures=len(writes))
        return writes

    def _report_unmapped(self, branches: list[str]) -> None:
        new = set(branches) - self.unmapped_branches
        if new:
            log.warning(
                "Shopbox branches without a Rackbeat location: their stock is not copied",
                branches=sorted(new),
            )
            self.unmapped_branches |= new

    def _report_negative(self, writes: list[StockWrite]) -> None:
        for target in negative_figures(writes):
            self.negative[(target.sku, target.location)] = target
            log.warning(
                "negative Shopbox stock copied to Rackbeat as it is; Shopbox will show 0",
                sku=target.sku,
                location=target.location,
                quantity=str(target.quantity),
            )

    def negative_report(self) -> list[dict[str, object]]:
        """The negative figures for /status: what to correct by a stock count."""
        return [
            {
                "sku": t.sku,
                "item": t.item_number,
                "location": t.location,
                "quantity": format(t.quantity.normalize(), "f"),
            }
            for _, t in sorted(self.negative.items())
        ]


def copied_at(bindings: list[Binding], skus: set[str], read_at: datetime) -> list[Binding]:
    """The bindings of the SKUs whose figures were copied, stamped with the listing's time
    (whether or not a figure differed: the item holds Shopbox's figure either way)."""
    return [
        b.model_copy(update={"stock_copied_at": read_at})
        if b.sku in skus and b.problem is None
        else b
        for b in bindings
    ]

"""The two item masters: what following each one means (poll, apply, after a pass).

- `ShopboxMaster`: Shopbox products -> Rackbeat products (and variations), the stock of a new
  item copied before its binding is published, duplicate SKUs re-applied once resolved, and
  bindings whose SKU left Shopbox retracted after a full pass.
- `RackbeatMaster`: Rackbeat products -> Shopbox products (never new variants).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Protocol

from domain.items.new_item_stock import NewItemStock
from domain.items.recheck import DuplicateWatch, gone_binding_keys
from domain.items.rules import duplicate_skus
from domain.items.to_rackbeat import Outcome, RackbeatWriter
from domain.items.to_shopbox import ShopboxWriter
from schemas.envelope import deterministic_id, utcnow
from schemas.items import ProductChanged
from services.common.bindings import BindingPublisher, BindingsView
from services.common.logging import get_logger
from services.item_mapper.pollers import (
    RackbeatPoller,
    ShopboxPoller,
    SnapshotPublisher,
    product_event,
)

log = get_logger(__name__)
Republish = Callable[[ProductChanged], Awaitable[None]]


class Master(Protocol):
    @property
    def last_poll_at(self) -> datetime | None: ...

    @property
    def new_stock(self) -> NewItemStock | None:
        """Copies the stock of new items (Shopbox master only)."""
        ...

    async def poll(self, *, full: bool) -> int: ...

    async def apply(self, event: ProductChanged) -> Outcome: ...

    async def after_pass(self) -> None: ...

    def loaded(self) -> None: ...


class ShopboxMaster:
    def __init__(
        self,
        poller: ShopboxPoller,
        writer: RackbeatWriter,
        new_stock: NewItemStock,
        snapshots: SnapshotPublisher,
        bindings: BindingsView,
        publisher: BindingPublisher,
        republish: Republish,
        counters: Counter[str],
    ) -> None:
        self._poller = poller
        self._writer = writer
        self._new_stock = new_stock
        self._snapshots = snapshots
        self._bindings = bindings
        self._publisher = publisher
        self._republish = republish
        self._counters = counters
        self._watch = DuplicateWatch()
        self._first_pass = asyncio.Event()

    @property
    def last_poll_at(self) -> datetime | None:
        return self._poller.last_poll_at

    @property
    def new_stock(self) -> NewItemStock:
        return self._new_stock

    def loaded(self) -> None:
        """Products held back by a duplicate before a restart are rechecked after a pass."""
        duplicates = duplicate_skus(self._snapshots.known.values())
        for snapshot in self._snapshots.known.values():
            self._watch.applied(snapshot, duplicates)

    async def poll(self, *, full: bool) -> int:
        changed = await self._poller.poll_once(full=full)
        self._first_pass.set()
        return changed

    async def apply(self, event: ProductChanged) -> Outcome:
        # Duplicates need the whole Shopbox table: wait for the poller's first full pass.
        await self._first_pass.wait()
        snapshot = event.payload
        table = [s for key, s in self._snapshots.known.items() if key != snapshot.product_id]
        duplicates = duplicate_skus([*table, snapshot])
        outcome = await self._writer.apply(snapshot, duplicates)
        self._watch.applied(snapshot, duplicates)
        # Before the binding is published: stock-publisher must never see the item at 0.
        await self._new_stock.copy_if_created(snapshot, outcome, event.occurred_at)
        return outcome

    async def after_pass(self) -> None:
        await self._reapply_resolved_duplicates()
        if self._poller.last_pass_full:
            await self._retract_gone_skus(self._poller.full_pass_products or 0)

    async def _reapply_resolved_duplicates(self) -> None:
        """The other owner of a SKU whose duplicate was fixed goes through the applier again."""
        known = self._snapshots.known
        for snapshot in self._watch.resolved(known, duplicate_skus(known.values())):
            log.info("duplicate SKU resolved; applying again", product=snapshot.product_id)
            event = product_event(snapshot, "item-mapper/recheck")
            event_id = deterministic_id(event.event_id, "recheck", str(utcnow()))
            await self._republish(event.model_copy(update={"event_id": event_id}))
            self._counters["rechecked"] += 1

    async def _retract_gone_skus(self, products_seen: int) -> None:
        """After a full pass: tombstone bindings whose SKU no master product carries."""
        if not self._bindings.caught_up or products_seen == 0:
            return  # an empty listing is more likely a fault than a shop with no products
        gone = gone_binding_keys(self._publisher.keys(), self._snapshots.known.values())
        await self._publisher.retract(gone, reason="no Shopbox product carries this SKU any more")


class RackbeatMaster:
    def __init__(self, poller: RackbeatPoller, writer: ShopboxWriter) -> None:
        self._poller = poller
        self._writer = writer

    @property
    def last_poll_at(self) -> datetime | None:
        return self._poller.last_poll_at

    @property
    def new_stock(self) -> None:
        return None

    def loaded(self) -> None:
        return None

    async def poll(self, *, full: bool) -> int:
        return await self._poller.poll_once()

    async def apply(self, event: ProductChanged) -> Outcome:
        return await self._writer.apply(event.payload)

    async def after_pass(self) -> None:
        return None

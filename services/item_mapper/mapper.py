"""item-mapper's service layer: follow the master, apply each product change to the other
side, publish the bindings that follow, and say in /status how it goes."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from faststream.kafka.annotations import KafkaMessage

from schemas.items import ProductChanged
from services.clients.http import is_transient
from services.common.bindings import BindingPublisher, BindingsView
from services.common.kafka import Permanent
from services.common.logging import get_logger
from services.common.periodic import every
from services.common.views import CompactedView
from services.item_mapper.masters import Master
from services.item_mapper.pollers import SnapshotPublisher

log = get_logger(__name__)
NAME = "item-mapper"


class ItemMapper:
    def __init__(
        self,
        master_name: str,
        bindings: BindingsView,
        publisher: BindingPublisher,
        full_pass_interval_s: float,
    ) -> None:
        self.master_name = master_name
        self._bindings = bindings
        self._publisher = publisher
        self._full_pass_interval_s = full_pass_interval_s
        self.counters: Counter[str] = Counter()
        self.master: Master | None = None
        self._products: CompactedView[ProductChanged] | None = None
        self._snapshots: SnapshotPublisher | None = None
        self._last_full = time.monotonic()
        if master_name == "none":
            log.info("item master is 'none': no items are synced in either direction")

    def follow(
        self,
        master: Master,
        products: CompactedView[ProductChanged],
        snapshots: SnapshotPublisher,
    ) -> None:
        """The master to follow, its products table and the snapshot publisher it polls into."""
        self.master, self._products, self._snapshots = master, products, snapshots

    async def handle(self, event: ProductChanged, _: KafkaMessage | None = None) -> None:
        assert self.master is not None
        try:
            outcome = await self.master.apply(event)
        except Exception as exc:
            if is_transient(exc):
                raise
            raise Permanent(str(exc)) from exc
        await self._publisher.publish(outcome.bindings, source=NAME, causation_id=event.event_id)
        self.counters[outcome.action] += 1
        if outcome.action == "skipped":
            log.warning("item skipped", product=outcome.product_id, reason=outcome.reason)
        elif outcome.action != "unchanged":
            log.info(
                "item synced",
                product=outcome.product_id,
                action=outcome.action,
                changes=outcome.changes,
            )

    async def load_tables(self) -> None:
        if self._products is None or self._snapshots is None or self.master is None:
            return
        await self._products.start()
        await self._products.wait_caught_up()
        known = {key: event.payload for key, event in self._products.items()}
        self._snapshots.known.update(known)
        self.master.loaded()

    async def poll_once(self) -> None:
        assert self.master is not None
        full = time.monotonic() - self._last_full >= self._full_pass_interval_s
        changed = await self.master.poll(full=full)
        if full:
            self._last_full = time.monotonic()
        if changed:
            log.info("master products changed", count=changed, master=self.master_name)
        await self.master.after_pass()

    async def run_polls(self, interval_s: float) -> None:
        await every(interval_s, self.poll_once, name=f"{self.master_name} product poll")

    def status(self) -> dict[str, Any]:
        new_stock = self.master.new_stock if self.master else None
        last_poll = self.master.last_poll_at if self.master else None
        return {
            "item_master": self.master_name,
            "items": dict(self.counters),
            "stock_figures_copied_on_create": new_stock.writes if new_stock else None,
            "unmapped_branches": sorted(new_stock.unmapped_branches) if new_stock else None,
            "negative_stock_copied": new_stock.negative_report() if new_stock else None,
            "bindings_retracted": self._publisher.retracted,
            "sku_problems": len(self._bindings.problems()) if self._bindings.caught_up else None,
            # The first few, so the dashboard can name them (syncctl drift lists all).
            "sku_problem_list": [
                {"sku": b.sku, "problem": b.problem} for b in self._bindings.problems()[:50]
            ],
            "bindings": len(self._bindings),
            "last_poll_at": last_poll.isoformat() if last_poll else None,
        }

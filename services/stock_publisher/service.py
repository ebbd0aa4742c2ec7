"""stock-publisher's service layer: the parts and the order they start in.

Start order: bindings, recent sales and the ledger are loaded first (a pushed figure must know
the pending sales), then the webhook is registered, then the reads, polls and pushes start, and
(with `STOCK_RECONCILE_INTERVAL_S` > 0) the reconciliation, which follows `rackbeat.stock.v1`.
A ledger entry that arrives live means Rackbeat absorbed a sale: the items on it are read again,
which settles the figures held until then (pending.py).
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from faststream.kafka import KafkaBroker

from domain.bindings import binding_for, copied_after
from domain.stock.coalesce import PushBuffer
from domain.stock.pending import VOID_RELEASE, PendingSales, StockSpot
from domain.stock.refresh import RefreshQueue
from schemas.envelope import utcnow
from schemas.orders import OrderSynced
from schemas.sales import SaleCancelled, SaleCompleted, SaleLine, SaleRefunded
from schemas.stock import StockObserved
from schemas.topics import Topics
from services.clients.rackbeat import RackbeatClient
from services.clients.shopbox import ShopboxClient
from services.common.bindings import BindingsView
from services.common.logging import get_logger
from services.common.periodic import every
from services.common.settings import KafkaSettings, StockSettings, SyncSettings
from services.common.views import CompactedView
from services.stock_publisher.feeds import SaleEvent, SalesFollower
from services.stock_publisher.ingest import Ingest
from services.stock_publisher.push import Pusher
from services.stock_publisher.reconcile import Reconciler
from services.stock_publisher.tokens import WebhookTokens

log = get_logger(__name__)

VOID_SETTLE_S = VOID_RELEASE.total_seconds() + 2
"""How long after a void the items are read again: past the time its units count as released
(with a margin for the till's clock), so an order nobody could cancel shows in the figure."""
Loop = Callable[[], Awaitable[None]]


class StockPublisher:
    def __init__(
        self,
        kafka: KafkaSettings,
        broker: KafkaBroker,
        rackbeat: RackbeatClient,
        shopbox: ShopboxClient,
        tokens: WebhookTokens,
        sync: SyncSettings,
        settings: StockSettings,
    ) -> None:
        topics = Topics(kafka.topic_namespace)
        self._kafka, self._broker, self._rackbeat = kafka, broker, rackbeat
        self.tokens, self.sync, self.settings = tokens, sync, settings
        self.counters: Counter[str] = Counter()
        self.unmapped: dict[str, set[str]] = {"skus": set(), "locations": set()}
        self.loaded = asyncio.Event()
        self.bindings = BindingsView(kafka, topics.bindings)
        self.pending = PendingSales(sync.branch_locations, self._resolve_sku, self._copied_after)
        self.ingest = Ingest(
            broker,
            topics,
            rackbeat,
            RefreshQueue(settings.read_debounce_s),
            self.counters,
            has_options=self.bindings.has_options,
            locations=sync.branch_locations.values(),
        )
        self.ledger = CompactedView(
            kafka, topics.orders_synced, OrderSynced, on_change=self._on_ledger
        )
        lookback = timedelta(hours=settings.sales_lookback_hours)
        self.sales = SalesFollower(
            kafka, topics.sales, self.pending, lookback, on_live_sale=self._on_live_sale
        )
        self.pusher = Pusher(
            kafka,
            broker,
            topics,
            shopbox,
            self.bindings,
            self.pending,
            sync.branch_locations,
            mode=settings.quantity,
            safety_buffer=settings.safety_buffer,
            buffer=PushBuffer(settings.push_quiet_s, settings.push_max_delay_s),
            counters=self.counters,
            unmapped=self.unmapped,
        )
        self.reconciling = settings.reconcile_interval_s > 0
        self.observations = CompactedView(kafka, topics.stock, StockObserved)
        self.reconciler = Reconciler(
            self.pusher,
            self.observations,
            shopbox,
            self.pending,
            sync.branch_locations,
            sales_lookback=lookback,
            counters=self.counters,
        )

    def _resolve_sku(self, line: SaleLine) -> str | None:
        found = binding_for(self.bindings, line.product_id, line.variant_id, line.sku)
        return found.sku if found else None

    def _copied_after(self, line: SaleLine, sold_at: datetime) -> bool:
        found = binding_for(self.bindings, line.product_id, line.variant_id, line.sku)
        return copied_after(found, sold_at)

    def _on_ledger(self, basket_id: str, event: OrderSynced | None) -> None:
        spots = self.pending.on_ledger(basket_id, event)
        if self.ledger.caught_up:  # a live absorption: read the items again to settle them
            self._refresh(spots)

    def _on_live_sale(self, event: SaleEvent, spots: list[StockSpot]) -> None:
        """The till moved Shopbox's stock. A refund added units back that Rackbeat's figure
        does not have: read the items now so the push takes them off again within seconds. A
        void added them back too; Rackbeat releases them once order-writer cancels the order,
        which the ledger then reports. Read again a little later in case it never does (no
        cancel endpoint: the void waits in the dead letters), so Shopbox shows Rackbeat's
        figure meanwhile instead of the till's."""
        if isinstance(event, SaleRefunded):
            self.pusher.till_moved(spots, "refund")
            self._refresh(spots, reason="refund")
        elif isinstance(event, SaleCancelled):
            self.pusher.till_moved(spots, "cancel")
            later = functools.partial(self._refresh, spots, reason="cancel")
            asyncio.get_running_loop().call_later(VOID_SETTLE_S, later)
        elif isinstance(event, SaleCompleted):
            self.pusher.till_moved(spots, "sale")

    def _refresh(self, spots: list[StockSpot], reason: str = "ledger") -> None:
        for sku, _location in spots:
            bound = self.bindings.by_sku(sku)
            if bound and bound.rackbeat_item_number:
                self.ingest.ask(bound.rackbeat_item_number, force=True, reason=reason)

    # ---------------------------------------------------------------------------- start-up

    async def load_tables(self) -> None:
        if not self.sync.stock_enabled:
            log.warning("stock sync is off (SYNC_STOCK_ENABLED=false): nothing is pushed")
            return
        try:
            await self._load_tables()
        except Exception:
            log.exception("start-up failed: tables or webhook registration")
            raise

    async def _load_tables(self) -> None:
        await self.bindings.start()
        await self.bindings.wait_caught_up(timeout_s=120)
        await asyncio.gather(self.ledger.start(), self.sales.start())
        await asyncio.gather(
            self.ledger.wait_caught_up(timeout_s=120), self.sales.wait_caught_up(timeout_s=120)
        )
        if self.reconciling:  # the reconciler follows the table on; the ingest needs it once
            await self.observations.start()
            await self.observations.wait_caught_up(timeout_s=120)
            self.ingest.remember_published(self.observations.items())
        else:
            await self.ingest.load_last_published(self._kafka)
        await self.tokens.register(
            self._kafka, self._broker, self._rackbeat, self.settings.public_url
        )
        self.bindings.on_bound = lambda item: self.ingest.ask(item, force=True, reason="binding")
        self.loaded.set()
        log.info("tables loaded", bindings=len(self.bindings), baskets=len(self.pending))

    async def not_loaded(self) -> str | None:
        if self.sync.stock_enabled and not self.loaded.is_set():
            return "loading bindings, recent sales and the order ledger"
        return None

    # ---------------------------------------------------------------------------- loops

    def loops(self) -> list[Loop]:
        """The background loops, each started once the tables are loaded (none when off)."""
        if not self.sync.stock_enabled:
            return []
        settings = self.settings
        jobs: list[Loop] = [
            self.ingest.run_reads,
            lambda: self.ingest.run_polls(settings.poll_interval_s, settings.full_sweep_interval_s),
            self.pusher.run,
            lambda: every(60, self._prune, name="pending-sales prune", wait_first=True),
        ]
        if self.reconciling:
            jobs.append(lambda: self.reconciler.run(settings.reconcile_interval_s))
        return [self._after_load(job) for job in jobs]

    def _after_load(self, job: Loop) -> Loop:
        async def run() -> None:
            await self.loaded.wait()
            await job()

        run.__qualname__ = getattr(job, "__qualname__", "loop")
        return run

    async def _prune(self) -> None:
        self.pending.prune(utcnow() - timedelta(minutes=10))

    def status(self) -> dict[str, Any]:
        return {
            "stock_enabled": self.sync.stock_enabled,
            "quantity": self.settings.quantity,
            "reconcile_interval_s": self.settings.reconcile_interval_s,
            # How late a stock move can reach Shopbox when its webhook is lost and the poll
            # cannot see it (stock moves may leave updated_at alone, docs/stock.md).
            "full_sweep_interval_s": self.settings.full_sweep_interval_s,
            "rackbeat_refused_filters": sorted(self._rackbeat.refused_filters),
            "webhook": self.tokens.state,
            "counters": dict(self.counters),
            "unmapped_skus": sorted(self.unmapped["skus"])[:100],
            "unmapped_sku_count": len(self.unmapped["skus"]),
            "unmapped_locations": sorted(self.unmapped["locations"]),
            "pending_baskets": len(self.pending),
            "pending_unmapped_lines": self.pending.unmapped_lines,
            "buffered_keys": len(self.pusher.buffer),
            "queued_reads": len(self.ingest.queue),
            "at": time.time(),
        }

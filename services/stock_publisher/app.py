"""stock-publisher: wiring only (broker, follower tables, loops, the webhook route).

Start order: bindings, recent sales and the ledger are loaded first (a pushed figure must know
the pending sales), then the webhook is registered, then the reads, polls and pushes start, and
(with `STOCK_RECONCILE_INTERVAL_S` > 0) the reconciliation, which follows `rackbeat.stock.v1`.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from starlette.routing import Route

from domain.bindings import binding_for
from domain.stock.coalesce import PushBuffer
from domain.stock.pending import PendingSales, StockSpot
from domain.stock.refresh import RefreshQueue
from schemas.envelope import utcnow
from schemas.orders import OrderSynced
from schemas.sales import SaleLine
from schemas.stock import StockObserved
from schemas.topics import Topics
from services.clients.factory import rackbeat_client, shopbox_client
from services.common.bindings import BindingsView
from services.common.kafka import make_broker
from services.common.logging import get_logger
from services.common.periodic import every
from services.common.runtime import Service
from services.common.settings import (
    KafkaSettings,
    RackbeatSettings,
    ShopboxSettings,
    StockSettings,
    SyncSettings,
)
from services.common.views import CompactedView
from services.stock_publisher.feeds import SalesFollower
from services.stock_publisher.ingest import Ingest
from services.stock_publisher.push import Pusher
from services.stock_publisher.reconcile import Reconciler
from services.stock_publisher.tokens import WEBHOOK_PATH, WebhookTokens
from services.stock_publisher.webhook import webhook_endpoint

NAME = "stock-publisher"
DEFAULT_PORT = 8003
log = get_logger(__name__)


def build() -> Service:
    kafka = KafkaSettings()
    sync = SyncSettings()
    stock = StockSettings()
    rackbeat_settings = RackbeatSettings()
    shopbox_settings = ShopboxSettings()
    topics = Topics(kafka.topic_namespace)
    broker = make_broker(kafka, client_id=NAME)
    counters: Counter[str] = Counter()
    unmapped: dict[str, set[str]] = {"skus": set(), "locations": set()}
    loaded = asyncio.Event()

    rackbeat = rackbeat_client(rackbeat_settings)
    shopbox = shopbox_client(shopbox_settings)
    bindings = BindingsView(kafka, topics.bindings)

    def resolve_sku(line: SaleLine) -> str | None:
        found = binding_for(bindings, line.product_id, line.variant_id, line.sku)
        return found.sku if found else None

    pending = PendingSales(sync.branch_locations, resolve_sku)
    ingest = Ingest(
        broker,
        topics,
        rackbeat,
        RefreshQueue(stock.read_debounce_s),
        counters,
        has_options=bindings.has_options,
        locations=sync.branch_locations.values(),
    )
    tokens = WebhookTokens(rackbeat_settings.webhook_token)

    def refresh_spots(spots: list[StockSpot]) -> None:
        for sku, _location in spots:
            bound = bindings.by_sku(sku)
            if bound and bound.rackbeat_item_number:
                ingest.ask(bound.rackbeat_item_number, force=True, reason="ledger")

    def on_ledger(basket_id: str, event: OrderSynced | None) -> None:
        spots = pending.on_ledger(basket_id, event)
        if ledger.caught_up:  # a live absorption: read the items again to settle them
            refresh_spots(spots)

    ledger: CompactedView[OrderSynced] = CompactedView(
        kafka, topics.orders_synced, OrderSynced, on_change=on_ledger
    )
    sales = SalesFollower(kafka, topics.sales, pending, timedelta(hours=stock.sales_lookback_hours))
    pusher = Pusher(
        kafka,
        broker,
        topics,
        shopbox,
        bindings,
        pending,
        sync.branch_locations,
        mode=stock.quantity,
        safety_buffer=stock.safety_buffer,
        buffer=PushBuffer(stock.push_quiet_s, stock.push_max_delay_s),
        counters=counters,
        unmapped=unmapped,
    )
    reconciling = stock.reconcile_interval_s > 0
    observations = CompactedView(kafka, topics.stock, StockObserved)
    reconciler = Reconciler(
        pusher,
        observations,
        shopbox,
        pending,
        sync.branch_locations,
        sales_lookback=timedelta(hours=stock.sales_lookback_hours),
        counters=counters,
    )

    async def load_tables() -> None:
        try:
            await _load_tables()
        except Exception:
            log.exception("start-up failed: tables or webhook registration")
            raise

    async def _load_tables() -> None:
        if not sync.stock_enabled:
            log.warning("stock sync is off (SYNC_STOCK_ENABLED=false): nothing is pushed")
            return
        await bindings.start()
        await bindings.wait_caught_up(timeout_s=120)
        await asyncio.gather(ledger.start(), sales.start())
        await asyncio.gather(
            ledger.wait_caught_up(timeout_s=120), sales.wait_caught_up(timeout_s=120)
        )
        if reconciling:  # the reconciler follows the table on; the ingest needs it once
            await observations.start()
            await observations.wait_caught_up(timeout_s=120)
            ingest.remember_published(observations.items())
        else:
            await ingest.load_last_published(kafka)
        await tokens.register(kafka, broker, rackbeat, stock.public_url)
        bindings.on_bound = lambda item: ingest.ask(item, force=True, reason="binding")
        loaded.set()
        log.info("tables loaded", bindings=len(bindings), baskets=len(pending))

    async def reads() -> None:
        await loaded.wait()
        await ingest.run_reads()

    async def polls() -> None:
        await loaded.wait()
        await ingest.run_polls(stock.poll_interval_s, stock.full_sweep_interval_s)

    async def pushes() -> None:
        await loaded.wait()
        await pusher.run()

    async def reconciliation() -> None:
        await loaded.wait()
        await reconciler.run(stock.reconcile_interval_s)

    async def housekeeping() -> None:
        await loaded.wait()

        async def prune() -> None:
            pending.prune(utcnow() - timedelta(minutes=10))

        await every(60, prune, name="pending-sales prune", wait_first=True)

    async def not_loaded() -> str | None:
        if sync.stock_enabled and not loaded.is_set():
            return "loading bindings, recent sales and the order ledger"
        return None

    def status() -> dict[str, Any]:
        return {
            "stock_enabled": sync.stock_enabled,
            "quantity": stock.quantity,
            "reconcile_interval_s": stock.reconcile_interval_s,
            "webhook": tokens.state,
            "counters": dict(counters),
            "unmapped_skus": sorted(unmapped["skus"])[:100],
            "unmapped_sku_count": len(unmapped["skus"]),
            "unmapped_locations": sorted(unmapped["locations"]),
            "pending_baskets": len(pending),
            "pending_unmapped_lines": pending.unmapped_lines,
            "buffered_keys": len(pusher.buffer),
            "queued_reads": len(ingest.queue),
            "at": time.time(),
        }

    route = Route(
        WEBHOOK_PATH,
        webhook_endpoint(tokens.accepted, ingest.ask, lambda: sync.stock_enabled, counters),
        methods=["POST"],
    )
    loops: list[Callable[[], Awaitable[None]]] = [reads, polls, pushes, housekeeping]
    if reconciling:
        loops.append(reconciliation)
    background = loops if sync.stock_enabled else []
    return Service(
        name=NAME,
        default_port=DEFAULT_PORT,
        broker=broker,
        kafka=kafka,
        routes=[route],
        on_connected=[load_tables],
        background=background,
        readiness=[not_loaded],
        status=status,
    )

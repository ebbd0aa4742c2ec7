"""order-ingest: wiring only (broker, HTTP route, background loops); the logic lives beside it."""

from __future__ import annotations

import asyncio
from typing import Any

from schemas.orders import OrderSynced
from schemas.sales import SalesPollCursorMoved, sales_event_adapter
from schemas.topics import Topics, dlq_name
from services.clients.factory import shopbox_client
from services.common.kafka import make_broker
from services.common.logging import get_logger
from services.common.runtime import Service
from services.common.settings import KafkaSettings, OrderIngestSettings, ShopboxSettings
from services.common.views import CompactedView
from services.order_ingest.ingest import CursorStore, Poller, SalesPublisher, Sweeper
from services.order_ingest.webhook import webhook_route

log = get_logger(__name__)

NAME = "order-ingest"
DEFAULT_PORT = 8001


def build() -> Service:
    kafka = KafkaSettings()
    shopbox = ShopboxSettings()
    settings = OrderIngestSettings()
    topics = Topics(kafka.topic_namespace)
    broker = make_broker(kafka, client_id=NAME)
    client = shopbox_client(shopbox)
    publisher = SalesPublisher(broker, topics.sales)
    cursor_view = CompactedView(kafka, topics.sales_cursor, SalesPollCursorMoved)
    ledger = CompactedView(kafka, topics.orders_synced, OrderSynced)
    dead_letters: CompactedView[Any] = CompactedView(
        kafka, dlq_name(topics.sales), sales_event_adapter
    )
    cursors = CursorStore(broker, topics.sales_cursor, cursor_view, settings)
    poller = Poller(client, publisher, cursors, settings)
    sweeper = Sweeper(client, publisher, ledger, dead_letters, cursors, settings)

    async def start_views() -> None:
        for view in (cursor_view, ledger, dead_letters):
            await view.start()

    async def load_start_point() -> None:
        # Fix the start point before taking webhooks (creating the cursor if none exists);
        # not ready until it is known.
        while True:
            try:
                await cursors.get()
                return
            except Exception as exc:
                log.warning("sync start point not loaded yet; retrying", error=str(exc))
                await asyncio.sleep(2)

    def status() -> dict[str, Any]:
        cursor = cursors.current.model_dump() if cursors.current else None
        return {
            "published": publisher.published,
            "skipped_recent_duplicates": publisher.skipped,
            "unusable_baskets_dead_lettered": publisher.dead_lettered,
            "polls": poller.polls,
            "cursor": cursor,
            "sweeps": sweeper.sweeps,
            "republished_by_sweep": sweeper.republished,
            "ignored_before_start_point": cursors.ignored_before_start,
        }

    return Service(
        name=NAME,
        default_port=DEFAULT_PORT,
        broker=broker,
        kafka=kafka,
        routes=[
            webhook_route(
                shopbox.webhook_secret.get_secret_value(),
                client,
                publisher,
                cursors,
                poll_now=poller.woken.set,
                sweep_now=sweeper.woken.set,
            )
        ],
        on_connected=[start_views, load_start_point],
        background=[poller.run, sweeper.run],
        status=status,
    )

"""order-ingest: wiring only (broker, HTTP route, background loops); the logic lives beside it."""

from __future__ import annotations

from typing import Any

from schemas.orders import OrderSynced
from schemas.sales import SalesPollCursorMoved, sales_event_adapter
from schemas.topics import Topics, dlq_name
from services.clients.shopbox import ShopboxClient
from services.common.kafka import make_broker
from services.common.runtime import Service
from services.common.settings import KafkaSettings, ShopboxSettings
from services.common.views import CompactedView
from services.order_ingest.ingest import Poller, SalesPublisher, Sweeper
from services.order_ingest.settings import OrderIngestSettings
from services.order_ingest.webhook import webhook_route

NAME = "order-ingest"
DEFAULT_PORT = 8001


def build() -> Service:
    kafka = KafkaSettings()
    shopbox = ShopboxSettings()
    settings = OrderIngestSettings()
    topics = Topics(kafka.topic_namespace)
    broker = make_broker(kafka, client_id=NAME)
    client = ShopboxClient(
        shopbox.base_url,
        shopbox.api_token.get_secret_value(),
        requests_per_minute=shopbox.requests_per_minute,
    )
    publisher = SalesPublisher(broker, topics.sales)
    cursor_view = CompactedView(kafka, topics.sales_cursor, SalesPollCursorMoved)
    ledger = CompactedView(kafka, topics.orders_synced, OrderSynced)
    dead_letters: CompactedView[Any] = CompactedView(
        kafka, dlq_name(topics.sales), sales_event_adapter
    )
    poller = Poller(client, publisher, broker, topics.sales_cursor, cursor_view, settings)
    sweeper = Sweeper(client, publisher, ledger, dead_letters, settings)

    async def start_views() -> None:
        for view in (cursor_view, ledger, dead_letters):
            await view.start()

    def status() -> dict[str, Any]:
        cursor = poller.cursor.model_dump() if poller.cursor else None
        return {
            "published": publisher.published,
            "skipped_recent_duplicates": publisher.skipped,
            "polls": poller.polls,
            "cursor": cursor,
            "sweeps": sweeper.sweeps,
            "republished_by_sweep": sweeper.republished,
        }

    return Service(
        name=NAME,
        default_port=DEFAULT_PORT,
        broker=broker,
        kafka=kafka,
        routes=[webhook_route(shopbox.webhook_secret.get_secret_value(), client, publisher)],
        on_connected=[start_views],
        background=[*([poller.run] if settings.poll_enabled else []), sweeper.run],
        status=status,
    )

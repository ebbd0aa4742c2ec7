"""stock-publisher: wiring only (settings, clients, the webhook route); the service layer is
`service.StockPublisher`."""

from __future__ import annotations

from starlette.routing import Route

from services.clients.factory import rackbeat_client, shopbox_client
from services.common.kafka import make_broker
from services.common.runtime import Service
from services.common.settings import KafkaSettings, RackbeatSettings, StockSettings, SyncSettings
from services.stock_publisher.service import StockPublisher
from services.stock_publisher.tokens import WEBHOOK_PATH, WebhookTokens
from services.stock_publisher.webhook import webhook_endpoint

NAME = "stock-publisher"
DEFAULT_PORT = 8003


def build() -> Service:
    kafka, sync, rackbeat_settings = KafkaSettings(), SyncSettings(), RackbeatSettings()
    broker = make_broker(kafka, client_id=NAME)
    stock = StockPublisher(
        kafka,
        broker,
        rackbeat_client(rackbeat_settings),
        shopbox_client(),
        WebhookTokens(rackbeat_settings.webhook_token),
        sync,
        StockSettings(),
    )
    receive = webhook_endpoint(
        stock.tokens.accepted, stock.ingest.ask, lambda: sync.stock_enabled, stock.counters
    )
    return Service(
        name=NAME,
        default_port=DEFAULT_PORT,
        broker=broker,
        kafka=kafka,
        routes=[Route(WEBHOOK_PATH, receive, methods=["POST"])],
        on_connected=[stock.load_tables],
        background=stock.loops(),
        readiness=[stock.not_loaded],
        status=stock.status,
        consumer_groups=[stock.pusher.group_id],
    )

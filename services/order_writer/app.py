"""order-writer: wiring only (broker, subscribers, HTTP routes); the logic lives beside it."""

from __future__ import annotations

from typing import Any

from faststream.kafka.annotations import KafkaMessage

from domain.sales.orders import OrderRules
from schemas.orders import OrderSynced
from schemas.sales import SaleCancelled, SaleCompleted, SaleRefunded, sales_event_adapter
from schemas.topics import Topics
from services.clients.factory import rackbeat_client
from services.common.bindings import BindingsView
from services.common.kafka import (
    make_broker,
    publish_event,
    reliable_handler,
)
from services.common.metrics import SALE_TO_ORDER, seconds_since
from services.common.runtime import Service
from services.common.settings import (
    KafkaSettings,
    OrderWriterSettings,
    RackbeatSettings,
    RetrySettings,
    ShopboxSettings,
    SyncSettings,
)
from services.common.views import CompactedView
from services.order_writer.keyed import keyed_subscriber
from services.order_writer.writer import OrderWriter

NAME = "order-writer"
DEFAULT_PORT = 8002


def rules_from(
    settings: OrderWriterSettings,
    sync: SyncSettings,
    shopbox: ShopboxSettings,
    rb: RackbeatSettings,
) -> OrderRules:
    return OrderRules(
        customer_number=settings.cash_customer_number,
        book=settings.order_state == "booked",
        vat_percent=sync.vat_percent,
        shopbox_prices_include_vat=shopbox.prices_include_vat,
        rackbeat_prices_include_vat=rb.prices_include_vat,
        branch_locations=sync.branch_locations,
        free_text_item=settings.free_text_item_number,
        rounding_item=settings.rounding_item_number,
        vat_rounding=settings.vat_rounding,
    )


def build() -> Service:
    kafka = KafkaSettings()
    rackbeat_settings = RackbeatSettings()
    settings = OrderWriterSettings()
    topics = Topics(kafka.topic_namespace)
    broker = make_broker(kafka, client_id=NAME)
    rackbeat = rackbeat_client(rackbeat_settings)
    ledger = CompactedView(kafka, topics.orders_synced, OrderSynced)
    bindings = BindingsView(kafka, topics.bindings)

    async def record(basket_id: str, synced: OrderSynced) -> None:
        await publish_event(broker, topics.orders_synced, basket_id, synced)

    rules = rules_from(settings, SyncSettings(), ShopboxSettings(), rackbeat_settings)
    writer = OrderWriter(rackbeat, ledger, bindings, record, rules)

    async def handle(
        event: SaleCompleted | SaleRefunded | SaleCancelled, msg: KafkaMessage
    ) -> None:
        # A duplicate adds no latency. (The handler's own answer, not a shared counter: other
        # baskets run concurrently and may skip meanwhile.)
        if await writer.handle(event, redelivered=dispatcher.redelivered(msg)):
            SALE_TO_ORDER.observe(seconds_since(event.occurred_at))

    retry = RetrySettings()
    dispatcher = keyed_subscriber(
        broker,
        topics.sales,
        group_id=settings.group_id or f"{kafka.topic_namespace}{NAME}",
        work=reliable_handler(
            broker, topics.sales, model=sales_event_adapter, retry=retry, handler=handle
        ),
        retry=retry,
        max_in_flight=settings.max_in_flight,
    )

    async def start_views() -> None:
        await ledger.start()
        await bindings.start()
        writer.ready.set()

    async def views_loaded() -> str | None:
        if not (ledger.caught_up and bindings.caught_up):
            return "ledger or bindings not loaded yet"
        return None

    async def rackbeat_answers() -> str | None:
        return rackbeat.health.failing()

    def status() -> dict[str, Any]:
        return {
            "orders": vars(writer.counters),
            "in_flight": dispatcher.in_flight,
            "ledger_keys": len(ledger),
            "bindings": len(bindings),
            "upstream_failing": [f for f in [rackbeat.health.failing()] if f],
        }

    return Service(
        name=NAME,
        default_port=DEFAULT_PORT,
        broker=broker,
        kafka=kafka,
        on_connected=[start_views],
        readiness=[views_loaded, rackbeat_answers],
        status=status,
    )

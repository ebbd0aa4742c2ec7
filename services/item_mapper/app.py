"""item-mapper: wiring only (broker, subscribers, pollers, status); the logic lives beside it.

SYNC_ITEM_MASTER picks the one direction that runs:
- shopbox:  poll Shopbox -> `shopbox.products.v1` -> apply to Rackbeat -> `items.bindings.v1`
- rackbeat: poll Rackbeat -> `rackbeat.products.v1` -> apply to Shopbox -> `items.bindings.v1`
- none:     nothing moves; /status says so.
The other side is never followed, so edits made there do not travel back.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from faststream.kafka.annotations import KafkaMessage

from schemas.items import ProductChanged, ProductSnapshot
from schemas.topics import Topics
from services.clients.http import is_transient
from services.common.kafka import Permanent, make_broker, publish_event, reliable_subscriber
from services.common.logging import get_logger
from services.common.runtime import Service
from services.common.settings import (
    KafkaSettings,
    RackbeatSettings,
    RetrySettings,
    ShopboxSettings,
    SyncSettings,
)
from services.common.views import BindingsView, CompactedView
from services.item_mapper.bindings import BindingPublisher
from services.item_mapper.clients import ItemsRackbeatClient, ItemsShopboxClient
from services.item_mapper.pollers import RackbeatPoller, ShopboxPoller, SnapshotPublisher
from services.item_mapper.rules import PriceRules, duplicate_skus
from services.item_mapper.settings import ItemMapperSettings
from services.item_mapper.to_rackbeat import Outcome, RackbeatCatalog, RackbeatWriter
from services.item_mapper.to_shopbox import ShopboxWriter

NAME = "item-mapper"
DEFAULT_PORT = 8004
log = get_logger(__name__)


def build() -> Service:
    kafka, sync, own = KafkaSettings(), SyncSettings(), ItemMapperSettings()
    shopbox_settings, rackbeat_settings = ShopboxSettings(), RackbeatSettings()
    topics = Topics(kafka.topic_namespace)
    broker = make_broker(kafka, client_id=NAME)
    service = Service(name=NAME, default_port=DEFAULT_PORT, broker=broker, kafka=kafka)
    master = sync.item_master
    counters: Counter[str] = Counter()
    bindings = BindingsView(kafka, topics.bindings)
    publisher = BindingPublisher(broker, topics.bindings, bindings)
    prices = PriceRules(
        sync.vat_percent, shopbox_settings.prices_include_vat, rackbeat_settings.prices_include_vat
    )
    poller: ShopboxPoller | RackbeatPoller | None = None

    def status() -> dict[str, Any]:
        return {
            "item_master": master,
            "items": dict(counters),
            "sku_problems": len(bindings.problems()) if bindings.caught_up else None,
            "bindings": len(bindings),
            "last_poll_at": poller.last_poll_at.isoformat()
            if poller and poller.last_poll_at
            else None,
        }

    service.status = status
    service.on_connected.append(bindings.start)
    if master == "none":
        log.info("item master is 'none': no items are synced in either direction")
        return service

    products_topic = topics.shopbox_products if master == "shopbox" else topics.rackbeat_products
    products = CompactedView(kafka, products_topic, ProductChanged)
    shopbox = ItemsShopboxClient(
        shopbox_settings.base_url,
        shopbox_settings.api_token.get_secret_value(),
        requests_per_minute=shopbox_settings.requests_per_minute,
    )
    rackbeat = ItemsRackbeatClient(
        rackbeat_settings.base_url,
        rackbeat_settings.api_token,
        requests_per_minute=rackbeat_settings.requests_per_minute,
    )

    async def publish_snapshot(event: ProductChanged) -> None:
        await publish_event(broker, products_topic, event.payload.product_id, event)

    snapshots = SnapshotPublisher(publish_snapshot, f"{NAME}/poll", {})
    first_pass = asyncio.Event()
    if master == "shopbox":
        poller = ShopboxPoller(shopbox, snapshots)
        writer = RackbeatWriter(
            rackbeat, RackbeatCatalog(rackbeat), prices, group=own.rackbeat_group
        )

        async def apply(snapshot: ProductSnapshot) -> Outcome:
            # Duplicates need the whole Shopbox table: wait for the poller's first full pass.
            await first_pass.wait()
            table = [s for key, s in snapshots.known.items() if key != snapshot.product_id]
            return await writer.apply(snapshot, duplicate_skus([*table, snapshot]))

    else:
        poller = RackbeatPoller(rackbeat, snapshots)
        to_shopbox = ShopboxWriter(shopbox, prices, bindings)

        async def apply(snapshot: ProductSnapshot) -> Outcome:
            return await to_shopbox.apply(snapshot)

    async def handle(event: ProductChanged, _: KafkaMessage) -> None:
        try:
            outcome = await apply(event.payload)
        except Exception as exc:
            if is_transient(exc):
                raise
            raise Permanent(str(exc)) from exc
        await publisher.publish(outcome.bindings, source=NAME, causation_id=event.event_id)
        counters[outcome.action] += 1
        if outcome.action == "skipped":
            log.warning("item skipped", product=outcome.product_id, reason=outcome.reason)
        elif outcome.action != "unchanged":
            log.info(
                "item synced",
                product=outcome.product_id,
                action=outcome.action,
                changes=outcome.changes,
            )

    reliable_subscriber(
        broker,
        products_topic,
        group_id=f"{kafka.topic_namespace}{NAME}.{master}-master",
        model=ProductChanged,
        retry=RetrySettings(),
        handler=handle,
    )

    async def load_tables() -> None:
        await products.start()
        await products.wait_caught_up()
        snapshots.known.update({key: event.payload for key, event in products.items()})

    async def poll_forever() -> None:
        assert poller is not None
        while True:
            try:
                changed = await poller.poll_once()
                first_pass.set()
                if changed:
                    log.info("master products changed", count=changed, master=master)
            except Exception as exc:  # a poll failure is retried at the next tick
                log.warning("poll failed", master=master, error=str(exc))
            await asyncio.sleep(own.poll_interval_s)

    service.on_connected.append(load_tables)
    service.background.append(poll_forever)
    return service

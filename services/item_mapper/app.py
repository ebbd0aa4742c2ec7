"""item-mapper: wiring only (broker, subscribers, pollers, status); the logic lives beside it.

SYNC_ITEM_MASTER picks the one direction that runs:
- shopbox:  poll Shopbox -> `shopbox.products.v1` -> apply to Rackbeat -> `items.bindings.v1`
- rackbeat: poll Rackbeat -> `rackbeat.products.v1` -> apply to Shopbox -> `items.bindings.v1`
- none:     nothing moves; /status says so.
The other side is never followed, so edits made there do not travel back.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from faststream.kafka.annotations import KafkaMessage

from domain.items.new_item_stock import NewItemStock, ShopboxStockListings
from domain.items.recheck import DuplicateWatch, gone_binding_keys
from domain.items.rules import PriceRules, duplicate_skus
from domain.items.to_rackbeat import Outcome, RackbeatCatalog, RackbeatWriter
from domain.items.to_shopbox import ShopboxWriter
from schemas.envelope import deterministic_id, utcnow
from schemas.items import ProductChanged
from schemas.topics import Topics
from services.clients.http import is_transient
from services.common.bindings import BindingPublisher, BindingsView
from services.common.kafka import Permanent, make_broker, publish_event, reliable_subscriber
from services.common.logging import get_logger
from services.common.runtime import Service
from services.common.settings import (
    ItemMapperSettings,
    KafkaSettings,
    RackbeatSettings,
    RetrySettings,
    ShopboxSettings,
    SyncSettings,
)
from services.common.views import CompactedView
from services.item_mapper.clients import ItemsRackbeatClient, ItemsShopboxClient
from services.item_mapper.pollers import (
    RackbeatPoller,
    ShopboxPoller,
    SnapshotPublisher,
    product_event,
)

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
    new_stock: NewItemStock | None = None

    def status() -> dict[str, Any]:
        return {
            "item_master": master,
            "items": dict(counters),
            "stock_figures_copied_on_create": new_stock.writes if new_stock else None,
            "unmapped_branches": sorted(new_stock.unmapped_branches) if new_stock else None,
            "bindings_retracted": publisher.retracted,
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
    watch = DuplicateWatch()
    after_pass: Callable[[], Awaitable[None]] | None = None
    if master == "shopbox":
        shopbox_poller = poller = ShopboxPoller(shopbox, snapshots)
        writer = RackbeatWriter(
            rackbeat, RackbeatCatalog(rackbeat), prices, group=own.rackbeat_group
        )
        new_stock = stock_copier = NewItemStock(
            ShopboxStockListings(shopbox), rackbeat, sync.branch_locations
        )

        async def apply(event: ProductChanged) -> Outcome:
            # Duplicates need the whole Shopbox table: wait for the poller's first full pass.
            await first_pass.wait()
            snapshot = event.payload
            table = [s for key, s in snapshots.known.items() if key != snapshot.product_id]
            duplicates = duplicate_skus([*table, snapshot])
            outcome = await writer.apply(snapshot, duplicates)
            watch.applied(snapshot, duplicates)
            # Before the binding is published: stock-publisher must never see the item at 0.
            await stock_copier.copy_if_created(snapshot, outcome, event.occurred_at)
            return outcome

        async def recheck() -> None:
            await reapply_resolved_duplicates()
            if shopbox_poller.last_pass_full:
                await retract_gone_skus(shopbox_poller.full_pass_products or 0)

        after_pass = recheck

    else:
        poller = RackbeatPoller(rackbeat, snapshots)
        to_shopbox = ShopboxWriter(shopbox, prices, bindings)

        async def apply(event: ProductChanged) -> Outcome:
            return await to_shopbox.apply(event.payload)

    async def reapply_resolved_duplicates() -> None:
        """The other owner of a SKU whose duplicate was fixed goes through the applier again."""
        for snapshot in watch.resolved(snapshots.known, duplicate_skus(snapshots.known.values())):
            log.info("duplicate SKU resolved; applying again", product=snapshot.product_id)
            event = product_event(snapshot, f"{NAME}/recheck")
            event = event.model_copy(
                update={"event_id": deterministic_id(event.event_id, "recheck", str(utcnow()))}
            )
            await publish_snapshot(event)
            counters["rechecked"] += 1

    async def retract_gone_skus(products_seen: int) -> None:
        """After a full pass: tombstone bindings whose SKU no master product carries."""
        if not bindings.caught_up or products_seen == 0:
            return  # an empty listing is more likely a fault than a shop with no products
        gone = gone_binding_keys(publisher.keys(), snapshots.known.values())
        await publisher.retract(gone, reason="no Shopbox product carries this SKU any more")

    async def handle(event: ProductChanged, _: KafkaMessage) -> None:
        try:
            outcome = await apply(event)
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
        # Products held back by a duplicate before a restart are rechecked after the first pass.
        duplicates = duplicate_skus(snapshots.known.values())
        for snapshot in snapshots.known.values():
            watch.applied(snapshot, duplicates)

    async def poll_forever() -> None:
        assert poller is not None
        last_full = time.monotonic()
        while True:
            try:
                full = time.monotonic() - last_full >= own.full_pass_interval_s
                if isinstance(poller, ShopboxPoller):
                    changed = await poller.poll_once(full=full)
                else:
                    changed = await poller.poll_once()
                last_full = time.monotonic() if full else last_full
                first_pass.set()
                if changed:
                    log.info("master products changed", count=changed, master=master)
                if after_pass is not None:
                    await after_pass()
            except Exception as exc:  # a poll failure is retried at the next tick
                log.warning("poll failed", master=master, error=str(exc))
            await asyncio.sleep(own.poll_interval_s)

    service.on_connected.append(load_tables)
    service.background.append(poll_forever)
    return service

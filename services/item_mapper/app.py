"""item-mapper: wiring only. SYNC_ITEM_MASTER picks the one direction that runs:
- shopbox:  poll Shopbox -> `shopbox.products.v1` -> apply to Rackbeat -> `items.bindings.v1`
- rackbeat: poll Rackbeat -> `rackbeat.products.v1` -> apply to Shopbox -> `items.bindings.v1`
- none:     nothing moves; /status says so.
The other side is never followed, so edits made there do not travel back.
"""

from __future__ import annotations

from collections import Counter

from domain.items.new_item_stock import NewItemStock, ShopboxStockListings
from domain.items.rules import PriceRules
from domain.items.to_rackbeat import RackbeatCatalog, RackbeatWriter
from domain.items.to_shopbox import ShopboxWriter
from schemas.items import ProductChanged
from schemas.topics import Topics
from services.clients.factory import rackbeat_client, shopbox_client
from services.common.bindings import BindingPublisher, BindingsView
from services.common.kafka import make_broker, publish_event, reliable_subscriber
from services.common.runtime import Service
from services.common.settings import (
    ItemMapperSettings,
    KafkaSettings,
    OrderWriterSettings,
    RackbeatSettings,
    RetrySettings,
    ShopboxSettings,
    SyncSettings,
)
from services.common.views import CompactedView
from services.item_mapper.mapper import NAME, ItemMapper
from services.item_mapper.masters import Master, RackbeatMaster, Republish, ShopboxMaster
from services.item_mapper.pollers import RackbeatPoller, ShopboxPoller, SnapshotPublisher

DEFAULT_PORT = 8004


def build() -> Service:
    kafka, sync, own = KafkaSettings(), SyncSettings(), ItemMapperSettings()
    topics = Topics(kafka.topic_namespace)
    broker = make_broker(kafka, client_id=NAME)
    bindings = BindingsView(kafka, topics.bindings)
    publisher = BindingPublisher(broker, topics.bindings, bindings)
    mapper = ItemMapper(sync.item_master, bindings, publisher, own.full_pass_interval_s)
    service = Service(
        name=NAME,
        default_port=DEFAULT_PORT,
        broker=broker,
        kafka=kafka,
        on_connected=[bindings.start, mapper.load_tables],
        status=mapper.status,
    )
    if sync.item_master == "none":
        return service
    master_topic = {"shopbox": topics.shopbox_products, "rackbeat": topics.rackbeat_products}
    topic = master_topic[sync.item_master]

    async def republish(event: ProductChanged) -> None:
        await publish_event(broker, topic, event.payload.product_id, event)

    snapshots = SnapshotPublisher(republish, f"{NAME}/poll", {})
    master = build_master(sync, own, snapshots, bindings, publisher, republish, mapper.counters)
    mapper.follow(master, CompactedView(kafka, topic, ProductChanged), snapshots)
    reliable_subscriber(
        broker,
        topic,
        group_id=f"{kafka.topic_namespace}{NAME}.{sync.item_master}-master",
        model=ProductChanged,
        retry=RetrySettings(),
        handler=mapper.handle,
    )
    service.background.append(lambda: mapper.run_polls(own.poll_interval_s))
    return service


def build_master(
    sync: SyncSettings,
    own: ItemMapperSettings,
    snapshots: SnapshotPublisher,
    bindings: BindingsView,
    publisher: BindingPublisher,
    republish: Republish,
    counters: Counter[str],
) -> Master:
    shopbox_settings, rackbeat_settings = ShopboxSettings(), RackbeatSettings()
    shopbox = shopbox_client(shopbox_settings)
    rackbeat = rackbeat_client(rackbeat_settings)
    prices = PriceRules(
        sync.vat_percent, shopbox_settings.prices_include_vat, rackbeat_settings.prices_include_vat
    )
    if sync.item_master == "rackbeat":
        rounding = OrderWriterSettings().rounding_item_number
        writer = ShopboxWriter(
            shopbox, prices, bindings, not_for_sale=frozenset([rounding] if rounding else [])
        )
        return RackbeatMaster(RackbeatPoller(rackbeat, snapshots), writer)
    return ShopboxMaster(
        ShopboxPoller(shopbox, snapshots),
        RackbeatWriter(rackbeat, RackbeatCatalog(rackbeat), prices, group=own.rackbeat_group),
        NewItemStock(ShopboxStockListings(shopbox), rackbeat, sync.branch_locations),
        snapshots,
        bindings,
        publisher,
        republish,
        counters,
    )

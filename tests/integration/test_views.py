"""CompactedView and BindingsView on the real broker: load, follow, tombstones, bad SKUs."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer

from schemas.items import Binding, BindingChanged
from services.common.bindings import BindingsView
from services.common.settings import KafkaSettings
from tests.fixtures.kafka import TopicFactory


def binding_event(binding: Binding) -> bytes:
    event = BindingChanged(
        event_id=f"b-{binding.sku}",
        occurred_at=datetime.now(UTC),
        source="test",
        payload=binding,
    )
    return event.model_dump_json().encode()


async def test_bindings_view_loads_history_then_follows_changes(
    kafka_bootstrap: str, topic_factory: TopicFactory
) -> None:
    topic = await topic_factory("bindings", partitions=2, compacted=True)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(
            topic,
            binding_event(
                Binding(sku="KAF-400", shopbox_product_id="11", rackbeat_item_number="KAF-400")
            ),
            key=b"KAF-400",
        )
        await producer.send_and_wait(
            topic,
            binding_event(
                Binding(
                    sku="TS-M",
                    shopbox_product_id="12",
                    shopbox_variant_id="7",
                    rackbeat_item_number="TS",
                    rackbeat_option_id="3",
                )
            ),
            key=b"TS-M",
        )
        await producer.send_and_wait(
            topic,
            binding_event(Binding(sku="DUP", shopbox_product_id="13", problem="duplicate SKU")),
            key=b"DUP",
        )

        view = BindingsView(KafkaSettings(bootstrap_servers=kafka_bootstrap), topic)
        await view.start()
        await view.wait_caught_up(20)
        try:
            assert view.by_sku("KAF-400") is not None
            variant = view.by_shopbox("12", "7")
            assert variant is not None and variant.sku == "TS-M"
            assert view.by_rackbeat("TS", "3") == variant
            assert view.by_sku("DUP") is None  # reported, never matched
            assert [b.sku for b in view.problems()] == ["DUP"]

            await producer.send_and_wait(topic, None, key=b"KAF-400")  # tombstone
            async with asyncio.timeout(10):
                while view.by_shopbox("11") is not None:
                    await asyncio.sleep(0.05)
            assert view.by_sku("KAF-400") is None
        finally:
            await view.stop()
    finally:
        await producer.stop()

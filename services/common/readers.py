"""Group-less topic readers: tables, tails and time windows read by partition.

Readers that need a whole table or a window of a topic (the bindings view, the recent-sales
follower, dead-letter listings, the drift report, the dashboard) use manual assignment and no
consumer group: they commit nothing and every replica reads everything.
"""

from __future__ import annotations

from datetime import datetime

from aiokafka import AIOKafkaConsumer, TopicPartition

from services.common.kafka import client_kwargs, topic_partitions
from services.common.settings import KafkaSettings


async def open_reader(
    kafka: KafkaSettings, topic: str
) -> tuple[AIOKafkaConsumer, list[TopicPartition]] | None:
    """A started consumer assigned to every partition of `topic`, or None when the topic does
    not exist. The caller stops the consumer. (No consumer is started for a missing topic:
    aiokafka's stop() of a consumer that never had an assignment can raise CancelledError.)"""
    partitions = await topic_partitions(kafka, topic)
    if not partitions:
        return None
    consumer = AIOKafkaConsumer(**client_kwargs(kafka), enable_auto_commit=False)
    await consumer.start()
    tps = [TopicPartition(topic, p) for p in partitions]
    consumer.assign(tps)
    return consumer, tps


async def open_existing(
    kafka: KafkaSettings, topic: str
) -> tuple[AIOKafkaConsumer, list[TopicPartition]]:
    """`open_reader` for a topic that must exist (the catalog's, created at start-up)."""
    opened = await open_reader(kafka, topic)
    if opened is None:
        raise RuntimeError(f"topic {topic} does not exist")
    return opened


async def seek_to_time(
    consumer: AIOKafkaConsumer, tps: list[TopicPartition], since: datetime
) -> dict[TopicPartition, int]:
    """Position each partition at its first record written at or after `since` (at its end if
    there is none); return the end offsets as they were, so a reader knows when it caught up."""
    found = await consumer.offsets_for_times(dict.fromkeys(tps, int(since.timestamp() * 1000)))
    ends: dict[TopicPartition, int] = await consumer.end_offsets(tps)
    for tp in tps:
        hit = found.get(tp)
        consumer.seek(tp, hit.offset if hit is not None else ends[tp])
    return ends

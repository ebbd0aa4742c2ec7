"""`syncctl replay`: move a consumer group's committed offsets (to the start, an offset or a
time). Kafka only accepts that while the group has no members, so the service must be stopped
first; we check and refuse with an explanation rather than fail half-way.
"""

from __future__ import annotations

from datetime import datetime

from aiokafka import AIOKafkaConsumer, TopicPartition

from services.common.connection import client_kwargs
from services.common.lags import admin_client, partitions_of
from services.common.settings import KafkaSettings


class ReplayRefused(Exception):
    pass


async def replay(
    kafka: KafkaSettings,
    group: str,
    topic: str,
    *,
    offset: int | None = None,
    since: datetime | None = None,
) -> dict[int, int]:
    """Set `group`'s committed offsets on `topic` (earliest when neither offset nor since is
    given); return the new offset per partition. The group must have no active members."""
    admin = await admin_client(kafka)
    try:
        (description,) = await admin.describe_consumer_groups([group])
        state = _group_state(description)
        if state not in ("Empty", "Dead", ""):
            raise ReplayRefused(
                f"group {group} is {state}: stop the service that consumes with it, then replay"
            )
        tps = await partitions_of(admin, [topic])
    finally:
        await admin.close()
    if not tps:
        raise ReplayRefused(f"topic {topic} does not exist")
    consumer = AIOKafkaConsumer(**client_kwargs(kafka), group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(tps)
        targets = await _targets(consumer, tps, offset, since)
        await consumer.commit(targets)
    finally:
        await consumer.stop()
    return {tp.partition: target for tp, target in targets.items()}


async def _targets(
    consumer: AIOKafkaConsumer,
    tps: list[TopicPartition],
    offset: int | None,
    since: datetime | None,
) -> dict[TopicPartition, int]:
    if offset is not None:
        return dict.fromkeys(tps, offset)
    starts: dict[TopicPartition, int] = await consumer.beginning_offsets(tps)
    if since is None:
        return starts
    ends: dict[TopicPartition, int] = await consumer.end_offsets(tps)
    found = await consumer.offsets_for_times({tp: int(since.timestamp() * 1000) for tp in tps})
    return {tp: found[tp].offset if found.get(tp) else ends[tp] for tp in tps}


def _group_state(description: object) -> str:
    """describe_consumer_groups answers a protocol response; the state is in its groups list."""
    groups = getattr(description, "groups", None)
    if groups:
        return str(groups[0][2])
    return ""

"""Consumer-group lag (with the age of the oldest unprocessed record) and dead-letter depths:
what `syncctl status` and the dashboard show.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from schemas.topics import Topics
from services.common import metrics
from services.common.connection import client_kwargs
from services.common.logging import get_logger
from services.common.settings import KafkaSettings

log = get_logger(__name__)


@dataclass(frozen=True)
class GroupLag:
    group: str
    topic: str
    committed: int
    end: int
    oldest_waiting_at: datetime | None = None
    """Timestamp of the oldest record the group has not processed yet (None when caught up):
    how long the direction has been behind, which a record count alone does not say."""

    @property
    def lag(self) -> int:
        return self.end - self.committed


async def admin_client(kafka: KafkaSettings) -> AIOKafkaAdminClient:
    admin = AIOKafkaAdminClient(**client_kwargs(kafka))
    await admin.start()
    return admin


async def _end_offsets(
    kafka: KafkaSettings, tps: list[TopicPartition]
) -> dict[TopicPartition, int]:
    if not tps:
        return {}
    consumer = AIOKafkaConsumer(**client_kwargs(kafka))
    await consumer.start()
    try:
        ends: dict[TopicPartition, int] = await consumer.end_offsets(tps)
        return ends
    finally:
        await consumer.stop()


async def partitions_of(admin: AIOKafkaAdminClient, topics: list[str]) -> list[TopicPartition]:
    described = await admin.describe_topics(topics)
    return [
        TopicPartition(topic["topic"], p["partition"])
        for topic in described
        if not topic.get("error_code")
        for p in topic["partitions"]
    ]


async def group_lags(kafka: KafkaSettings, topics: set[str]) -> list[GroupLag]:
    """Committed offset and end offset per consumer group, for the given topics only."""
    admin = await admin_client(kafka)
    try:
        groups = [
            g[0] if isinstance(g, tuple) else g["group_id"]
            for g in await admin.list_consumer_groups()
        ]
        committed: dict[tuple[str, TopicPartition], int] = {}
        for group in groups:
            for tp, meta in (await admin.list_consumer_group_offsets(group)).items():
                if tp.topic in topics:
                    committed[(group, tp)] = meta.offset
    finally:
        await admin.close()
    ends = await _end_offsets(kafka, sorted({tp for _, tp in committed}))
    behind = {key: offset for key, offset in committed.items() if 0 <= offset < ends.get(key[1], 0)}
    oldest = await _oldest_waiting(kafka, behind)
    totals: dict[tuple[str, str], list[int]] = {}
    for (group, tp), offset in committed.items():
        total = totals.setdefault((group, tp.topic), [0, 0])
        total[0] += max(offset, 0)
        total[1] += ends.get(tp, 0)
    return [GroupLag(g, t, c, e, oldest.get((g, t))) for (g, t), (c, e) in sorted(totals.items())]


@dataclass(frozen=True)
class PartitionLag:
    group: str
    topic: str
    partition: int
    lag: int


@dataclass(frozen=True)
class GroupPartitionLags:
    partitions: list[PartitionLag]
    oldest: dict[tuple[str, str], datetime | None]
    """Per group and topic, the oldest record not processed yet (None when caught up)."""


async def partition_lags(kafka: KafkaSettings, groups: list[str]) -> GroupPartitionLags:
    """Lag per partition of the given consumer groups (the metrics of the service owning them)."""
    admin = await admin_client(kafka)
    try:
        committed: dict[tuple[str, TopicPartition], int] = {}
        for group in groups:
            for tp, meta in (await admin.list_consumer_group_offsets(group)).items():
                committed[(group, tp)] = meta.offset
    finally:
        await admin.close()
    ends = await _end_offsets(kafka, sorted({tp for _, tp in committed}))
    rows = [
        PartitionLag(g, tp.topic, tp.partition, max(ends.get(tp, 0) - max(offset, 0), 0))
        for (g, tp), offset in sorted(committed.items())
    ]
    behind = {key: offset for key, offset in committed.items() if 0 <= offset < ends.get(key[1], 0)}
    found = await _oldest_waiting(kafka, behind)
    oldest: dict[tuple[str, str], datetime | None] = {(r.group, r.topic): None for r in rows}
    oldest.update(found)
    return GroupPartitionLags(rows, oldest)


async def _oldest_waiting(
    kafka: KafkaSettings, behind: dict[tuple[str, TopicPartition], int], timeout_s: float = 2.0
) -> dict[tuple[str, str], datetime]:
    """Per group and topic, the timestamp of the first unprocessed record (the one at the
    committed offset, or the next one where compaction removed it). One read per lagging
    partition, so a caught-up pipeline costs nothing."""
    if not behind:
        return {}
    consumer = AIOKafkaConsumer(**client_kwargs(kafka), enable_auto_commit=False)
    await consumer.start()
    oldest: dict[tuple[str, str], datetime] = {}
    try:
        for group in sorted({g for g, _ in behind}):
            positions = {tp: offset for (g, tp), offset in behind.items() if g == group}
            for tp, stamp in (await _first_records(consumer, positions, timeout_s)).items():
                key = (group, tp.topic)
                oldest[key] = min(stamp, oldest.get(key, stamp))
    finally:
        await consumer.stop()
    return oldest


async def _first_records(
    consumer: AIOKafkaConsumer, positions: dict[TopicPartition, int], timeout_s: float
) -> dict[TopicPartition, datetime]:
    consumer.assign(list(positions))
    for tp, offset in positions.items():
        consumer.seek(tp, offset)
    found: dict[TopicPartition, datetime] = {}
    deadline = asyncio.get_running_loop().time() + timeout_s
    while len(found) < len(positions) and asyncio.get_running_loop().time() < deadline:
        batch = await consumer.getmany(timeout_ms=200)
        for tp, records in batch.items():
            if records and tp not in found:
                found[tp] = datetime.fromtimestamp(records[0].timestamp / 1000, UTC)
                consumer.pause(tp)
    consumer.resume(*positions)
    return found


async def dead_letter_depths(kafka: KafkaSettings) -> dict[str, int]:
    admin = await admin_client(kafka)
    try:
        wanted = set(Topics(kafka.topic_namespace).dead_letters())
        names = sorted(wanted & set(await admin.list_topics()))
        tps = await partitions_of(admin, names)
    finally:
        await admin.close()
    ends = await _end_offsets(kafka, tps)
    depths = dict.fromkeys(names, 0)
    for tp, end in ends.items():
        depths[tp.topic] += end
    return depths


class LagSampler:
    """Reads the committed and end offsets of the service's consumer groups every `every_s`
    and sets the lag gauges. A scrape is synchronous and must not wait on Kafka, hence a loop."""

    def __init__(self, kafka: KafkaSettings, groups: Sequence[str], every_s: float = 15.0):
        self._kafka = kafka
        self._groups = list(dict.fromkeys(g for g in groups if g))
        self._every_s = every_s

    async def run(self) -> None:
        if not self._groups:
            return
        while True:
            try:
                await self.sample()
            except Exception as exc:  # Kafka briefly away: the next sample catches up
                metrics.LAG_SAMPLE_FAILURES.inc()
                log.warning("could not sample consumer lag", error=str(exc))
            await asyncio.sleep(self._every_s)

    async def sample(self) -> None:
        lags = await partition_lags(self._kafka, self._groups)
        for row in lags.partitions:
            metrics.CONSUMER_LAG.labels(row.group, row.topic, str(row.partition)).set(row.lag)
        for (group, topic), oldest in lags.oldest.items():
            age = metrics.seconds_since(oldest) if oldest else 0.0
            metrics.CONSUMER_OLDEST_AGE.labels(group, topic).set(age)

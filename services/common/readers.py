"""Group-less topic readers: one bounded reader, one follower, both by partition.

Readers that need a whole table or a window of a topic (the bindings and ledger tables, the
recent-sales follower, dead-letter listings, the drift report, the dashboard) use manual
assignment and no consumer group: they commit nothing and every replica reads everything.

- `read_records`: the records of a topic from a start (the beginning, a time, or the last N per
  partition) up to the end it had when the call began. For listings and reports.
- `TopicFollower`: reads from a start position on and calls `on_record` for each record, setting
  `caught_up` once it reached the end the topic had at start. For tables kept up to date.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from services.common.connection import client_kwargs, topic_partitions
from services.common.logging import get_logger
from services.common.settings import KafkaSettings

log = get_logger(__name__)

Start = datetime | int | None
"""Where a read begins: None = the beginning, a datetime = the first record at or after it,
an int N = the last N records of each partition."""


async def open_reader(
    kafka: KafkaSettings, topic: str
) -> tuple[AIOKafkaConsumer, list[TopicPartition]] | None:
    """A started consumer assigned to every partition of `topic`, or None when the topic does
    not exist. The caller stops the consumer. (No consumer is started for a missing topic:
    aiokafka's stop() of a consumer that never had an assignment can raise CancelledError.)"""
    partitions = await topic_partitions(kafka, topic)
    if not partitions:
        return None
    # "earliest": the reset aiokafka runs on assignment can land after our own seek and win;
    # with the default ("latest") a reader then started at the end and saw nothing.
    consumer = AIOKafkaConsumer(
        **client_kwargs(kafka), enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    tps = [TopicPartition(topic, p) for p in partitions]
    consumer.assign(tps)
    return consumer, tps


async def seek(
    consumer: AIOKafkaConsumer, tps: list[TopicPartition], start: Start
) -> dict[TopicPartition, int]:
    """Position every partition at `start`; return the end offsets as they are now, so a reader
    knows when it has read everything that was there."""
    if start is None:
        # A lazy reset: asked before end_offsets, or that call settles the position at the end.
        await consumer.seek_to_beginning(*tps)
    ends: dict[TopicPartition, int] = await consumer.end_offsets(tps)
    if isinstance(start, datetime):
        found = await consumer.offsets_for_times(dict.fromkeys(tps, int(start.timestamp() * 1000)))
        for tp in tps:
            hit = found.get(tp)
            consumer.seek(tp, hit.offset if hit is not None else ends[tp])
    elif start is not None:
        starts: dict[TopicPartition, int] = await consumer.beginning_offsets(tps)
        for tp in tps:
            consumer.seek(tp, max(starts[tp], ends[tp] - start))
    return ends


async def reached(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    positions = [await consumer.position(tp) for tp in ends]
    return all(pos >= end for pos, end in zip(positions, ends.values(), strict=True))


async def read_records(kafka: KafkaSettings, topic: str, start: Start = None) -> list[Any]:
    """The records of `topic` from `start` to its end as it was when called, in partition and
    offset order; [] when the topic does not exist."""
    opened = await open_reader(kafka, topic)
    if opened is None:
        return []
    consumer, tps = opened
    try:
        ends = await seek(consumer, tps, start)
        records: list[ConsumerRecord] = []
        while not await reached(consumer, ends):
            for tp, batch in (await consumer.getmany(timeout_ms=500)).items():
                records += [r for r in batch if r.offset < ends[tp]]
        return sorted(records, key=lambda r: (r.partition, r.offset))
    finally:
        await consumer.stop()


async def record_count(kafka: KafkaSettings, topic: str) -> int:
    """Records still held by `topic` (0 when it does not exist)."""
    opened = await open_reader(kafka, topic)
    if opened is None:
        return 0
    consumer, tps = opened
    try:
        starts = await consumer.beginning_offsets(tps)
        ends = await consumer.end_offsets(tps)
        return sum(ends[tp] - starts[tp] for tp in tps)
    finally:
        await consumer.stop()


class TopicFollower:
    """Follows `topic` from `start` and calls `on_record(record)` for every record.

    The topic must exist (the catalog's topics are created at start-up). A failing `on_record`
    is logged and the follow goes on: a table that silently stopped would serve stale data.
    """

    def __init__(
        self,
        kafka: KafkaSettings,
        topic: str,
        on_record: Callable[[Any], None],
        start: Start = None,
    ) -> None:
        self.topic = topic
        self._kafka = kafka
        self._on_record = on_record
        self._start = start
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._caught_up = asyncio.Event()

    @property
    def caught_up(self) -> bool:
        """True once everything that was on the topic at start has been read."""
        return self._caught_up.is_set()

    async def start(self) -> None:
        opened = await open_reader(self._kafka, self.topic)
        if opened is None:
            raise RuntimeError(f"topic {self.topic} does not exist")
        consumer, tps = opened
        ends = await seek(consumer, tps, self._start)
        self._consumer = consumer
        self._task = asyncio.create_task(self._follow(ends))

    async def wait_caught_up(self, timeout_s: float = 60) -> None:
        async with asyncio.timeout(timeout_s):
            await self._caught_up.wait()

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer:
            await self._consumer.stop()

    async def _follow(self, ends: dict[TopicPartition, int]) -> None:
        while True:
            try:
                await self._step(ends)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("topic follow failed; retrying in 1 s", topic=self.topic)
                await asyncio.sleep(1)

    async def _step(self, ends: dict[TopicPartition, int]) -> None:
        assert self._consumer is not None
        batch = await self._consumer.getmany(timeout_ms=500)
        for records in batch.values():
            for record in records:
                self._on_record(record)
        if not self._caught_up.is_set() and await reached(self._consumer, ends):
            self._caught_up.set()
            self.on_caught_up()

    def on_caught_up(self) -> None:
        log.info("topic loaded", topic=self.topic)

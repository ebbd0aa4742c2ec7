"""Records of different keys in flight at once, one at a time per key, commits that never skip.

FastStream's own concurrency does not fit (docs/decisions/0015-keyed-concurrency-in-a-partition.md):
this takes each record from the subscriber, runs it after the previous record of its key, and
commits a partition only up to its lowest unfinished record, so a crash redelivers and never
skips. A record that waits (a binding not there yet, an API outage) holds its key and the commit
point, never the other keys. `max_in_flight` bounds the work: when it is full, the subscriber's
handler waits, so the consumer stops taking records (back-pressure) and the backlog stays in
Kafka.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from services.common.kafka import max_poll_interval_ms, record_of
from services.common.logging import get_logger
from services.common.settings import RetrySettings

log = get_logger(__name__)

Work = Callable[[KafkaMessage], Awaitable[None]]
RETRY_PAUSE_S = 2.0


@dataclass
class Progress:
    """One partition's offsets: which are running, and the highest one taken."""

    unfinished: set[int] = field(default_factory=set)
    highest: int = -1
    committed: int = -1

    def start(self, offset: int) -> None:
        self.unfinished.add(offset)
        self.highest = max(self.highest, offset)

    def finish(self, offset: int) -> None:
        self.unfinished.discard(offset)

    def commit_point(self) -> int:
        """The next offset to read after a restart: the lowest unfinished one, or past the
        highest taken when every record is done."""
        return min(self.unfinished) if self.unfinished else self.highest + 1


@dataclass
class KeyedDispatcher:
    work: Work
    consumer_of: Callable[[], AIOKafkaConsumer | None]
    max_in_flight: int = 200
    commit_interval_s: float = 0.2
    _slots: asyncio.Semaphore = field(init=False)
    _tails: dict[bytes, asyncio.Task[None]] = field(default_factory=dict)
    _progress: dict[TopicPartition, Progress] = field(default_factory=dict)
    _doubt_until: dict[TopicPartition, int] = field(default_factory=dict)
    _committer: asyncio.Task[None] | None = None

    def __post_init__(self) -> None:
        self._slots = asyncio.Semaphore(self.max_in_flight)

    @property
    def in_flight(self) -> int:
        return sum(len(p.unfinished) for p in self._progress.values())

    async def submit(self, msg: KafkaMessage) -> None:
        """The subscriber's handler: returns once the record is scheduled, waits while
        `max_in_flight` records are running."""
        await self._slots.acquire()
        record = record_of(msg)
        tp = TopicPartition(record.topic, record.partition)
        progress = self._progress.setdefault(tp, Progress())
        progress.start(record.offset)
        key: bytes = record.key or b""
        previous = self._tails.get(key)
        task = asyncio.create_task(self._run(previous, msg, progress, record.offset))
        self._tails[key] = task
        task.add_done_callback(lambda done: self._forget(key, done))
        if self._committer is None:
            self._committer = asyncio.create_task(self._commit_loop())

    def redelivered(self, msg: KafkaMessage) -> bool:
        """Whether another consumer (or this one before a restart or rebalance) may have
        handled this record already: it was in the partition when the partition was assigned."""
        record = record_of(msg)
        return bool(
            record.offset
            < self._doubt_until.get(TopicPartition(record.topic, record.partition), 1 << 62)
        )

    def _forget(self, key: bytes, done: asyncio.Task[None]) -> None:
        if self._tails.get(key) is done:
            del self._tails[key]

    async def _run(
        self,
        previous: asyncio.Task[None] | None,
        msg: KafkaMessage,
        progress: Progress,
        offset: int,
    ) -> None:
        try:
            if previous is not None:
                await asyncio.wait([previous])
            await self._until_done(msg)
        finally:
            progress.finish(offset)
            self._slots.release()

    async def _until_done(self, msg: KafkaMessage) -> None:
        # The work raises only when even its dead letter could not be written: the record must
        # neither be committed nor skipped, so it is tried again (its offset holds the commit).
        while True:
            try:
                await self.work(msg)
                return
            except Exception as exc:
                log.error("record not handled; trying again", error=str(exc))
                await asyncio.sleep(RETRY_PAUSE_S)

    async def _commit_loop(self) -> None:
        while True:
            await asyncio.sleep(self.commit_interval_s)
            await self.commit()

    async def commit(self, only: set[TopicPartition] | None = None) -> None:
        consumer = self.consumer_of()
        if consumer is None:
            return
        owned = consumer.assignment()
        points = {
            tp: p.commit_point()
            for tp, p in self._progress.items()
            if tp in owned and (only is None or tp in only) and p.commit_point() > p.committed
        }
        if not points:
            return
        try:
            await consumer.commit(points)
        except Exception as exc:  # a rebalance under way: the new owner redelivers
            log.info("commit refused; records will be redelivered", error=str(exc))
            return
        for tp, offset in points.items():
            self._progress[tp].committed = offset

    def listener(self) -> ConsumerRebalanceListener:
        return _Rebalance(self)

    async def on_revoked(self, revoked: set[TopicPartition]) -> None:
        await self.commit(set(revoked))
        for tp in revoked:
            self._progress.pop(tp, None)
            self._doubt_until.pop(tp, None)

    async def on_assigned(self, assigned: set[TopicPartition]) -> None:
        consumer = self.consumer_of()
        if consumer is None or not assigned:
            return
        ends: dict[TopicPartition, int] = await consumer.end_offsets(list(assigned))
        self._doubt_until.update(ends)

    async def stop(self) -> None:
        if self._committer is not None:
            self._committer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._committer


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, dispatcher: KeyedDispatcher) -> None:
        self.dispatcher = dispatcher

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self.dispatcher.on_revoked(set(revoked))

    async def on_partitions_assigned(self, assigned: Any) -> None:
        await self.dispatcher.on_assigned(set(assigned))


def keyed_subscriber(
    broker: KafkaBroker,
    topic: str,
    *,
    group_id: str,
    work: Work,
    retry: RetrySettings,
    max_in_flight: int,
) -> KeyedDispatcher:
    """Subscribe `work` (a `reliable_handler`) through a `KeyedDispatcher`."""
    subscriber: Any = None
    dispatcher = KeyedDispatcher(
        work, lambda: getattr(subscriber, "consumer", None), max_in_flight=max_in_flight
    )
    # MANUAL: FastStream never commits; the dispatcher does, up to the lowest unfinished record.
    subscriber = broker.subscriber(
        topic,
        group_id=group_id,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.MANUAL,
        max_poll_interval_ms=max_poll_interval_ms(retry),
        listener=dispatcher.listener(),
    )
    subscriber(dispatcher.submit)
    return dispatcher

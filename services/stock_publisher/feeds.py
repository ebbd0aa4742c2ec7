"""Followers that feed `PendingSales`: recent sales, and the order ledger.

Sales: `shopbox.sales.v1` is a long-retention stream, so it is read from `now - lookback`
(offsets_for_times), not from the beginning; a sale older than that which Rackbeat still has not
absorbed is order-writer's dead-letter business, not a stock figure's. No consumer group: every
replica needs the whole picture and there is nothing to commit.
Ledger: `orders.synced.v1` is compacted, read whole through `CompactedView`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import timedelta

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import ValidationError

from domain.stock.pending import PendingSales
from schemas.envelope import utcnow
from schemas.sales import sales_event_adapter
from services.common.logging import get_logger
from services.common.readers import open_existing, seek_to_time
from services.common.settings import KafkaSettings

log = get_logger(__name__)


class SalesFollower:
    def __init__(
        self,
        kafka: KafkaSettings,
        topic: str,
        pending: PendingSales,
        lookback: timedelta,
        on_loaded: Callable[[], None] | None = None,
    ) -> None:
        self._kafka = kafka
        self._topic = topic
        self._pending = pending
        self._lookback = lookback
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self.caught_up = asyncio.Event()
        self.skipped = 0

    async def start(self) -> None:
        consumer, partitions = await open_existing(self._kafka, self._topic)
        ends = await seek_to_time(consumer, partitions, utcnow() - self._lookback)
        self._consumer = consumer
        self._task = asyncio.create_task(self._follow(ends))

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer:
            await self._consumer.stop()

    async def _follow(self, ends: dict[TopicPartition, int]) -> None:
        consumer = self._consumer
        assert consumer is not None
        while True:
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                for record in records:
                    try:
                        event = sales_event_adapter.validate_json(record.value or b"")
                    except ValidationError:
                        self.skipped += 1  # order-writer dead-letters it; nothing to subtract
                        continue
                    self._pending.on_sale(event)
            if not self.caught_up.is_set():
                positions = [await consumer.position(tp) for tp in ends]
                if all(pos >= end for pos, end in zip(positions, ends.values(), strict=True)):
                    self.caught_up.set()
                    log.info("recent sales loaded", baskets=len(self._pending))

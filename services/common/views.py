"""In-memory tables built from compacted topics: the latest value per key.

Services read shared state (the SKU bindings, the order ledger) by replaying a compacted topic
from the beginning on start and then following it. The reader uses manual partition assignment
and no consumer group: every replica needs the whole table, and there is no offset to commit.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import TypeAdapter, ValidationError

from schemas.items import Binding, BindingChanged
from services.common.logging import get_logger
from services.common.readers import open_existing
from services.common.settings import KafkaSettings

log = get_logger(__name__)
T = TypeVar("T")


class CompactedView(Generic[T]):
    """Latest value per key of `topic`; a tombstone (null value) removes the key."""

    def __init__(
        self,
        kafka: KafkaSettings,
        topic: str,
        model: type[T] | TypeAdapter[T],
        on_change: Callable[[str, T | None], None] | None = None,
    ) -> None:
        self.topic = topic
        self._kafka = kafka
        self._adapter: TypeAdapter[T] = (
            model if isinstance(model, TypeAdapter) else TypeAdapter(model)
        )
        self._on_change = on_change
        self._values: dict[str, T] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._caught_up = asyncio.Event()
        self.skipped = 0

    @property
    def caught_up(self) -> bool:
        """True once everything that was on the topic at start has been read."""
        return self._caught_up.is_set()

    def get(self, key: str) -> T | None:
        return self._values.get(key)

    def items(self) -> Iterator[tuple[str, T]]:
        return iter(list(self._values.items()))

    def __len__(self) -> int:
        return len(self._values)

    async def start(self) -> None:
        consumer, partitions = await open_existing(self._kafka, self.topic)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
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
        assert self._consumer is not None
        if all(offset == 0 for offset in ends.values()):
            self._caught_up.set()
        while True:
            try:
                await self._step(ends)
            except asyncio.CancelledError:
                raise
            except Exception:
                # A table that silently stops following serves stale data: say so, keep going.
                log.exception("table follow failed; retrying in 1 s", topic=self.topic)
                await asyncio.sleep(1)

    async def _step(self, ends: dict[TopicPartition, int]) -> None:
        assert self._consumer is not None
        batch = await self._consumer.getmany(timeout_ms=500)
        for records in batch.values():
            for record in records:
                self._apply(record.key.decode() if record.key else "", record.value)
        if not self._caught_up.is_set() and await self._reached(ends):
            self._caught_up.set()
            log.info("table loaded", topic=self.topic, keys=len(self._values))

    async def _reached(self, ends: dict[TopicPartition, int]) -> bool:
        assert self._consumer is not None
        positions = [await self._consumer.position(tp) for tp in ends]
        return all(pos >= end for pos, end in zip(positions, ends.values(), strict=True))

    def _apply(self, key: str, value: bytes | None) -> None:
        if value is None:
            self._values.pop(key, None)
            new: T | None = None
        else:
            try:
                new = self._adapter.validate_json(value)
            except ValidationError as exc:
                self.skipped += 1
                log.warning(
                    "unreadable table record skipped", topic=self.topic, key=key, error=str(exc)
                )
                return
            self._values[key] = new
        if self._on_change:
            self._on_change(key, new)


class BindingsView(CompactedView[BindingChanged]):
    """`items.bindings.v1` with lookups by SKU and by each side's ids.

    A binding with a `problem` (empty, duplicate or over-long SKU) is kept for reporting but is
    never returned by a lookup: such SKUs are never matched by guess.
    """

    def __init__(self, kafka: KafkaSettings, topic: str) -> None:
        super().__init__(kafka, topic, BindingChanged, on_change=self._index)
        self._by_shopbox: dict[tuple[str, str | None], str] = {}
        self._by_rackbeat: dict[tuple[str, str | None], str] = {}

    def by_sku(self, sku: str) -> Binding | None:
        event = self.get(sku)
        return event.payload if event and event.payload.problem is None else None

    def by_shopbox(self, product_id: str, variant_id: str | None = None) -> Binding | None:
        sku = self._by_shopbox.get((product_id, variant_id))
        return self.by_sku(sku) if sku else None

    def by_rackbeat(self, item_number: str, option_id: str | None = None) -> Binding | None:
        sku = self._by_rackbeat.get((item_number, option_id))
        return self.by_sku(sku) if sku else None

    def problems(self) -> list[Binding]:
        return [event.payload for _, event in self.items() if event.payload.problem]

    def _index(self, sku: str, event: BindingChanged | None) -> None:
        for index in (self._by_shopbox, self._by_rackbeat):
            for key in [k for k, v in index.items() if v == sku]:
                del index[key]
        if event is None:
            return
        binding: Binding = event.payload
        if binding.shopbox_product_id:
            self._by_shopbox[(binding.shopbox_product_id, binding.shopbox_variant_id)] = sku
        if binding.rackbeat_item_number:
            self._by_rackbeat[(binding.rackbeat_item_number, binding.rackbeat_option_id)] = sku

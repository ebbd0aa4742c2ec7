"""Push: follow `rackbeat.stock.v1`, coalesce per key, write absolute quantities to Shopbox.

One loop owns the consumer: read records into the `PushBuffer`, write the keys that are due,
then commit what `PushBuffer.committable` allows (nothing past a value not yet in Shopbox).
Records are never offered while a flush runs, so the buffer needs no locking. Per due key:
bindings give the Shopbox product/variant (an observation of a variation option goes to the
variant bound to that option, nowhere else), `SYNC_BRANCH_LOCATIONS` the branches; the target is
Rackbeat's figure minus the safety buffer minus Shopbox sales Rackbeat has not absorbed; a key
whose reading is ambiguous about a just-absorbed sale is held until the fresh read arrives; the
current Shopbox figure is read first and equal values are not written.

`targets()` and `write()` are also the reconciler's path (reconcile.py); `lock` keeps a flush
and a reconciliation from interleaving their writes.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Protocol

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from pydantic import ValidationError

from domain.stock.coalesce import Entry, PushBuffer
from domain.stock.levels import QuantityMode, target_quantity
from domain.stock.pending import PendingSales
from domain.stock.reconcile import Place
from schemas.envelope import deterministic_id, utcnow
from schemas.items import Binding
from schemas.stock import StockObserved, StockPushed, StockPushedPayload
from schemas.topics import Topics
from services.clients.http import ApiError, is_transient
from services.clients.shopbox import InventoryRow
from services.common import metrics
from services.common.connection import Broker, client_kwargs
from services.common.dead_letters import Failure, write_dead_letter
from services.common.kafka import publish_event
from services.common.logging import get_logger
from services.common.settings import KafkaSettings

log = get_logger(__name__)
GROUP_SUFFIX = "stock-publisher-push"
UNITS_BACK = ("refund", "cancel")
"""Till moves that added units back to Shopbox: its figure may then be above the target even
where our copy of it equals the target, so the write is never skipped."""


class ShopboxFigures(Protocol):
    """The Shopbox calls a push makes (`ShopboxClient`, or a fake in unit tests)."""

    def iter_stock(self, branch: str, *, per_page: int = ...) -> AsyncIterator[InventoryRow]: ...

    async def set_stock(
        self,
        branch: str,
        product: str,
        quantity: Decimal | int,
        *,
        product_variance: str | None = ...,
        note: str = ...,
    ) -> None: ...


class RackbeatBindings(Protocol):
    def by_rackbeat(self, item_number: str, variant: str | None = ...) -> Binding | None: ...


class Pusher:
    def __init__(
        self,
        kafka: KafkaSettings,
        broker: Broker,
        topics: Topics,
        shopbox: ShopboxFigures,
        bindings: RackbeatBindings,
        pending: PendingSales,
        branch_locations: dict[str, int],
        *,
        mode: QuantityMode,
        safety_buffer: dict[int, Decimal],
        buffer: PushBuffer,
        counters: Counter[str],
        unmapped: dict[str, set[str]],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._kafka = kafka
        self._broker = broker
        self._topics = topics
        self._shopbox = shopbox
        self._bindings = bindings
        self._pending = pending
        self._branch_locations = branch_locations
        self._mode: QuantityMode = mode
        self._safety = safety_buffer
        self.buffer = buffer
        self._counters = counters
        self._unmapped = unmapped
        self._clock = clock
        self._consumer: AIOKafkaConsumer | None = None
        self._committed: dict[TopicPartition, int] = {}
        self._snapshots: dict[str, tuple[float, dict[tuple[str, str | None], Decimal]]] = {}
        self.snapshot_ttl_s = 5.0
        self.lock = asyncio.Lock()
        self._written_at: dict[tuple[str, str, str | None], float] = {}
        self._till_moved: dict[tuple[str, str], str] = {}
        """(branch, SKU) -> "sale" or "refund": the till moved Shopbox's figure since we last
        listed or wrote it, so our copy of it may be wrong (see `_copy_trusted`)."""

    @property
    def group_id(self) -> str:
        return f"{self._kafka.topic_namespace}{GROUP_SUFFIX}"

    async def run(self) -> None:
        consumer = AIOKafkaConsumer(
            **client_kwargs(self._kafka),
            group_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_interval_ms=600_000,
        )
        await consumer.start()
        consumer.subscribe([self._topics.stock], listener=_Revoked(self))
        self._consumer = consumer
        try:
            while True:
                batch = await consumer.getmany(timeout_ms=100, max_records=1000)
                for records in batch.values():
                    for record in records:
                        await self._offer(record)
                await self.flush_due()
                await self._commit()
        finally:
            self._consumer = None
            await consumer.stop()

    async def _offer(self, record: object) -> None:
        raw = getattr(record, "value", None)
        key = (getattr(record, "key", None) or b"").decode()
        try:
            event = StockObserved.model_validate_json(raw or b"")
        except ValidationError as exc:
            where = (getattr(record, "partition", 0), getattr(record, "offset", 0))
            await self._dead_letter(raw, key, *where, f"invalid record: {exc.errors()[:3]}")
            return
        replaces = self.buffer.waiting(key)
        taken = self.buffer.offer(
            key,
            event,
            getattr(record, "partition", 0),
            getattr(record, "offset", 0),
            self._clock(),
        )
        if not taken or replaces:
            metrics.STOCK_COALESCED.labels("coalesced" if taken else "stale").inc()

    async def _commit(self) -> None:
        consumer = self._consumer
        if consumer is None:
            return
        assignment = consumer.assignment()
        positions = {tp.partition: await consumer.position(tp) for tp in assignment}
        wanted = {
            TopicPartition(self._topics.stock, p): offset
            for p, offset in self.buffer.committable(positions).items()
        }
        changed = {tp: o for tp, o in wanted.items() if self._committed.get(tp) != o}
        if changed:
            await consumer.commit(changed)
            self._committed.update(changed)

    # ------------------------------------------------------------------ flushing

    async def flush_due(self) -> None:
        due = self.buffer.due(self._clock())
        if not due:
            return
        async with self.lock:
            await self._flush(due)

    async def _flush(self, due: list[tuple[str, Entry]]) -> None:
        current = self._fresh_snapshots()
        for key, entry in due:
            try:
                await self._apply(entry, current)
            except ApiError as exc:
                if is_transient(exc):
                    wait = self.buffer.retry_later(entry, self._clock())
                    self._counters["write_retries"] += 1
                    log.warning(
                        "shopbox write failed; retrying", key=key, in_s=wait, error=str(exc)
                    )
                    self._snapshots.clear()
                    current.clear()
                    continue
                self._counters["write_failures"] += 1
                raw = entry.event.model_dump_json().encode()
                await self._dead_letter(raw, key, entry.partition, entry.first_offset, str(exc))
            self.buffer.done(key, entry)

    async def _apply(
        self, entry: Entry, current: dict[str, dict[tuple[str, str | None], Decimal]]
    ) -> None:
        event = entry.event
        for place, target in self.targets(event):
            if place.branch not in current:
                current[place.branch] = await self._list_branch(place.branch)
            before = current[place.branch].get(place.ref)
            if before is not None and before == target and self._copy_trusted(place, target):
                self._counters["writes_skipped_equal"] += 1
                continue
            await self.write(place, target, before, event)
            current[place.branch][place.ref] = target

    async def _list_branch(self, branch: str) -> dict[tuple[str, str | None], Decimal]:
        figures = {
            (row.product_uid, row.product_variance): row.quantity
            async for row in self._shopbox.iter_stock(branch)
        }
        self._snapshots[branch] = (self._clock(), figures)
        for moved in [m for m in self._till_moved if m[0] == branch]:
            del self._till_moved[moved]  # the listing shows what the till did
        return figures

    def till_moved(self, spots: list[tuple[str, int]], kind: str) -> None:
        """A live sale, refund or void changed Shopbox's stock at these (SKU, location) spots."""
        for sku, location in spots:
            for branch, mapped in self._branch_locations.items():
                if mapped == location and self._till_moved.get((branch, sku)) not in UNITS_BACK:
                    self._till_moved[(branch, sku)] = kind

    def _copy_trusted(self, place: Place, target: Decimal) -> bool:
        """Is our copy of Shopbox's figure, equal to the target, good enough to skip the write?
        Not after a refund: the till added the units back, and the target (Rackbeat's figure)
        does not. Not for a target of 0 after a sale: the till may have gone below zero,
        which the clamped target cannot tell apart from the 0 we last saw."""
        moved = self._till_moved.get((place.branch, place.sku))
        return not (moved in UNITS_BACK or (moved == "sale" and target == 0))

    def targets(
        self, event: StockObserved, *, counting: bool = True
    ) -> list[tuple[Place, Decimal]]:
        """Each Shopbox place this observation feeds, with the figure it should show; places
        whose reading is ambiguous about a just-absorbed sale are left out (held)."""
        level = event.payload
        found = []
        places = self._places(
            level.item_number, level.location_number, level.variation_option_id, counting
        )
        for place in places:
            spot = (place.sku, level.location_number)
            if self._pending.unsettled(spot, event.observed_at):
                if counting:
                    self._counters["held_for_fresh_read"] += 1
                continue
            target = target_quantity(
                level,
                mode=self._mode,
                buffer=self._safety.get(level.location_number, Decimal(0)),
                pending_sales=self._pending.pending(spot, event.observed_at),
            )
            if target.clamped_from is not None and counting:
                self._counters["clamped_to_zero"] += 1
                log.warning(
                    "negative stock clamped to zero",
                    sku=place.sku,
                    branch=place.branch,
                    computed=str(target.clamped_from),
                )
            found.append((place, target.quantity))
        return found

    async def write(
        self,
        place: Place,
        quantity: Decimal,
        before: Decimal | None,
        cause: StockObserved,
        *,
        reason: str = "push",
    ) -> None:
        """Set the absolute figure in Shopbox and record it on `stock.pushed.v1`."""
        await self._shopbox.set_stock(
            place.branch, place.product, quantity, product_variance=place.variant
        )
        self._written_at[(place.branch, *place.ref)] = self._clock()
        self._till_moved.pop((place.branch, place.sku), None)
        snapshot = self._snapshots.get(place.branch)
        if snapshot is not None:
            snapshot[1][place.ref] = quantity
        self._counters["writes"] += 1
        metrics.STOCK_PUSHES.labels(reason).inc()
        metrics.STOCK_TO_SHOPBOX.labels(reason).observe(metrics.seconds_since(cause.occurred_at))
        await self._record(place, quantity, before, cause, reason)

    def written_since(self, place: Place, moment: float) -> bool:
        """Did this service write the place at or after `moment` (its monotonic clock)?"""
        return self._written_at.get((place.branch, *place.ref), float("-inf")) >= moment

    def _fresh_snapshots(self) -> dict[str, dict[tuple[str, str | None], Decimal]]:
        """Shopbox's stock per branch as last read (and since written by us), while younger
        than `snapshot_ttl_s`: one branch listing per few seconds instead of one per flush."""
        now = self._clock()
        return {
            branch: values
            for branch, (read_at, values) in self._snapshots.items()
            if now - read_at < self.snapshot_ttl_s
        }

    def _places(
        self, item: str, location: int, option: str | None, counting: bool = True
    ) -> list[Place]:
        binding = self._bindings.by_rackbeat(item, option)
        if binding is None or not binding.shopbox_product_id:
            name = item if option is None else f"{item} variant {option}"
            reason = "no binding for this Rackbeat item (option); stock not pushed"
            self._report("skus", name, reason, counting)
            return []
        branches = [b for b, loc in self._branch_locations.items() if loc == location]
        if not branches:
            reason = "location not in SYNC_BRANCH_LOCATIONS"
            self._report("locations", str(location), reason, counting)
            return []
        return [_place(binding, branch) for branch in branches]

    def _report(self, kind: str, name: str, reason: str, counting: bool) -> None:
        if counting:
            self._counters[f"unmapped_{kind}_seen"] += 1
        if name not in self._unmapped[kind]:
            self._unmapped[kind].add(name)
            log.warning("unmapped stock skipped", kind=kind, name=name, reason=reason)

    async def _record(
        self,
        place: Place,
        quantity: Decimal,
        before: Decimal | None,
        cause: StockObserved,
        reason: str,
    ) -> None:
        now = utcnow()
        if reason == "push":  # one write per observation and branch: a redelivery is the same
            event_id = deterministic_id("stock-publisher", "pushed", cause.event_id, place.branch)
            because = f"{cause.source} {cause.event_id}"
        else:  # a correction of the same observation may happen again after another drift
            event_id = deterministic_id(
                "stock-publisher", reason, cause.event_id, place.branch, now.isoformat()
            )
            because = f"{reason} {cause.event_id}"
        event = StockPushed(
            event_id=event_id,
            occurred_at=now,
            source=f"stock-publisher/{reason}",
            causation_id=cause.event_id,
            correlation_id=cause.correlation_id or cause.event_id,
            payload=StockPushedPayload(
                sku=place.sku,
                branch_id=place.branch,
                product_id=place.product,
                variant_id=place.variant,
                quantity=quantity,
                previous_quantity=before,
                cause=because,
                observed_at=cause.observed_at,
                pushed_at=now,
            ),
        )
        await publish_event(
            self._broker, self._topics.stock_pushed, f"{place.sku}|{place.branch}", event
        )

    async def _dead_letter(
        self, raw: bytes | None, key: str, partition: int, offset: int, reason: str
    ) -> None:
        self._counters["dead_letters"] += 1
        log.warning("stock record dead-lettered", key=key, reason=reason)
        failure = Failure(self._topics.stock, partition, offset, reason, attempts=1)
        await write_dead_letter(
            self._broker, failure, key=key.encode(), value=raw, headers={}, kafka=self._kafka
        )


def _place(binding: Binding, branch: str) -> Place:
    assert binding.shopbox_product_id is not None
    return Place(binding.sku, branch, binding.shopbox_product_id, binding.shopbox_variant_id)


class _Revoked(ConsumerRebalanceListener):  # type: ignore[misc]
    """Drop buffered values of partitions we lose; their new owner re-reads them."""

    def __init__(self, pusher: Pusher) -> None:
        self._pusher = pusher

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        self._pusher.buffer.forget_partitions({tp.partition for tp in revoked})
        for tp in revoked:
            self._pusher._committed.pop(tp, None)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        return None

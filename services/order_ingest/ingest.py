"""The three ways a Shopbox sale reaches `shopbox.sales.v1`: webhook fetch, poll and sweep.

All three go through `SalesPublisher`, which maps a basket to its events and publishes them keyed
by basket id. The logic deciding *what* to publish lives in `mapping`, `cursor` and `sweep_plan`;
this module only moves data between Shopbox, Kafka and those functions.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from faststream.kafka import KafkaBroker

from domain.sales.baskets import SalesEvent, UnusableBasket, sale_events
from domain.sales.cursor import advance, before_start_point, initial_cursor
from domain.sales.sweep import needs_republish
from schemas.orders import OrderSynced
from schemas.sales import POLL_CURSOR_KEY, SalesPollCursor, SalesPollCursorMoved
from services.clients.shopbox import Basket, ShopboxClient
from services.common.dead_letters import Failure, write_dead_letter
from services.common.kafka import publish_event
from services.common.logging import get_logger
from services.common.periodic import every
from services.common.settings import OrderIngestSettings
from services.common.views import CompactedView

log = get_logger(__name__)


@dataclass
class SalesPublisher:
    """Publishes a basket's events; skips event ids it published a moment ago (webhook
    duplicates, poll after webhook) so the stream stays small. Correctness never depends on
    this cache: the writer is idempotent."""

    broker: KafkaBroker
    topic: str
    remember: int = 50_000
    published: int = 0
    skipped: int = 0
    dead_lettered: int = 0
    _recent: OrderedDict[str, None] = field(default_factory=OrderedDict)
    _unusable: set[str] = field(default_factory=set)

    async def publish_basket(
        self, basket: Basket, *, source: str, force: bool = False
    ) -> list[SalesEvent]:
        """`force` publishes even what was sent a moment ago (the sweep's whole point)."""
        sent = []
        for event in sale_events(basket, source=source):
            if event.event_id in self._recent and not force:
                self.skipped += 1
                continue
            await publish_event(self.broker, self.topic, basket.uid, event)
            self._remember(event.event_id)
            self.published += 1
            sent.append(event)
        return sent

    async def publish_or_dead_letter(
        self, basket: Basket, *, source: str, force: bool = False
    ) -> list[SalesEvent]:
        """As `publish_basket`, but an unusable basket goes to the dead letters with its reason
        (once per process) instead of stopping the poll or the sweep that met it."""
        try:
            return await self.publish_basket(basket, source=source, force=force)
        except UnusableBasket as exc:
            if basket.uid not in self._unusable:
                await self._dead_letter(basket, f"unusable basket {basket.uid}: {exc}", source)
            return []

    async def _dead_letter(self, basket: Basket, reason: str, source: str) -> None:
        # No consumed record behind it: partition/offset -1, and the value is the basket as
        # read, so support sees what Shopbox sent.
        failure = Failure(self.topic, -1, -1, reason, attempts=1)
        await write_dead_letter(
            self.broker,
            failure,
            key=basket.uid.encode(),
            value=basket.model_dump_json().encode(),
            headers={"x-dlq-source": source},
        )
        self._unusable.add(basket.uid)
        self.dead_lettered += 1
        log.warning("unusable basket dead-lettered", basket=basket.uid, reason=reason)

    def _remember(self, event_id: str) -> None:
        self._recent[event_id] = None
        while len(self._recent) > self.remember:
            self._recent.popitem(last=False)


@dataclass
class CursorStore:
    """The poll cursor kept in Kafka, and with it the sync start point that poll, sweep and
    webhook all respect. Without a saved cursor (no initial sync, first start) one is created at
    `started_at - ORDER_INGEST_INITIAL_LOOKBACK_S` and saved at once, so the start point holds
    across restarts even with polling off."""

    broker: KafkaBroker
    topic: str
    view: CompactedView[SalesPollCursorMoved]
    settings: OrderIngestSettings
    started_at: float = field(default_factory=time.time)
    current: SalesPollCursor | None = None
    ignored_before_start: int = 0
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def get(self) -> SalesPollCursor:
        async with self._lock:
            if self.current is None:
                self.current = await self._load()
                log.info("poll cursor loaded", cursor=self.current.model_dump())
            return self.current

    async def _load(self) -> SalesPollCursor:
        await self.view.wait_caught_up()
        saved = self.view.get(POLL_CURSOR_KEY)
        if saved is not None:
            return saved.payload
        cursor = initial_cursor(int(self.started_at), self.settings.initial_lookback_s)
        await self.save(cursor, source="order-ingest/start")
        return cursor

    async def save(self, cursor: SalesPollCursor, *, source: str) -> None:
        await publish_event(
            self.broker, self.topic, POLL_CURSOR_KEY, SalesPollCursorMoved.of(cursor, source=source)
        )
        self.current = cursor

    async def ignores(self, basket: Basket, path: str) -> bool:
        """True (logged, counted) for a basket created before the sync start point."""
        if not before_start_point(await self.get(), basket.creation_time):
            return False
        self.ignored_before_start += 1
        log.info(
            "basket created before the sync start point ignored",
            basket=basket.uid,
            path=path,
            creation_time=basket.creation_time,
            start_point=self.current.floor if self.current else None,
        )
        return True


@dataclass
class Poller:
    """Polls the sales list newest first and resumes from a cursor kept in Kafka."""

    client: ShopboxClient
    publisher: SalesPublisher
    cursors: CursorStore
    settings: OrderIngestSettings
    polls: int = 0
    woken: asyncio.Event = field(default_factory=asyncio.Event)
    """Set by a push that names no basket (docs/api-assumptions.md W2): poll now."""

    async def poll_once(self) -> int:
        cursor = await self.cursors.get()
        listed = [b async for b in self.client.iter_baskets(since=cursor.creation_time)]
        new, moved = advance(cursor, listed)
        for basket in new:
            await self.publisher.publish_or_dead_letter(basket, source="order-ingest/poll")
        if moved != cursor:
            await self.cursors.save(moved, source="order-ingest/poll")
        self.polls += 1
        return len(new)

    async def run(self) -> None:
        """Poll every `poll_interval_s` and whenever woken; with polling off, only when woken."""

        async def poll() -> None:
            found = await self.poll_once()
            if found:
                log.info("poll published new baskets", baskets=found)

        # A failed poll is retried from the cursor at the next round.
        scheduled = self.settings.poll_enabled
        interval = self.settings.poll_interval_s if scheduled else None
        await every(interval, poll, name="basket poll", wait_first=not scheduled, wake=self.woken)


@dataclass
class Sweeper:
    """Re-publishes recent baskets the ledger does not show as done (lost webhooks, baskets
    back-dated past the poll cursor, cancellations the poller cannot see)."""

    client: ShopboxClient
    publisher: SalesPublisher
    ledger: CompactedView[OrderSynced]
    dead_letters: CompactedView[object]
    cursors: CursorStore
    settings: OrderIngestSettings
    sweeps: int = 0
    republished: int = 0
    woken: asyncio.Event = field(default_factory=asyncio.Event)
    """Set by a push that gave units back (a refund or a void): sweep now."""

    async def sweep_once(self, now: float | None = None) -> int:
        await self.ledger.wait_caught_up()
        await self.dead_letters.wait_caught_up()
        floor = (await self.cursors.get()).floor
        now = time.time() if now is None else now
        since = int(now - self.settings.sweep_window_s)
        since = since if floor is None else max(since, floor)
        count = 0
        async for basket in self.client.iter_baskets(since=since):
            if now - basket.creation_time < self.settings.sweep_grace_s and not basket.canceled:
                continue
            if await self.cursors.ignores(basket, "sweep"):
                continue
            synced = self.ledger.get(basket.uid)
            outcome = synced.payload.outcome if synced else None
            if needs_republish(basket, outcome, self.dead_letters.get(basket.uid) is not None):
                sent = await self.publisher.publish_or_dead_letter(
                    basket, source="order-ingest/sweep", force=True
                )
                count += bool(sent)
        self.sweeps += 1
        self.republished += count
        return count

    async def run(self) -> None:
        async def sweep() -> None:
            log.info("sweep done", republished=await self.sweep_once())

        await every(
            self.settings.sweep_interval_s, sweep, name="sweep", wait_first=True, wake=self.woken
        )

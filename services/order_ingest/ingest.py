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

from schemas.envelope import deterministic_id, utcnow
from schemas.orders import OrderSynced
from schemas.sales import SalesPollCursor, SalesPollCursorMoved
from services.clients.shopbox import Basket, ShopboxClient
from services.common.kafka import publish_event
from services.common.logging import get_logger
from services.common.views import CompactedView
from services.order_ingest.cursor import advance, initial_cursor
from services.order_ingest.mapping import SalesEvent, sale_events
from services.order_ingest.settings import OrderIngestSettings
from services.order_ingest.sweep_plan import needs_republish

log = get_logger(__name__)

POLLER_KEY = "order-ingest/baskets"


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
    _recent: OrderedDict[str, None] = field(default_factory=OrderedDict)

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

    def _remember(self, event_id: str) -> None:
        self._recent[event_id] = None
        while len(self._recent) > self.remember:
            self._recent.popitem(last=False)


@dataclass
class Poller:
    """Polls the sales list newest first and resumes from a cursor kept in Kafka."""

    client: ShopboxClient
    publisher: SalesPublisher
    broker: KafkaBroker
    cursor_topic: str
    cursor_view: CompactedView[SalesPollCursorMoved]
    settings: OrderIngestSettings
    cursor: SalesPollCursor | None = None
    polls: int = 0

    async def load_cursor(self) -> SalesPollCursor:
        await self.cursor_view.wait_caught_up()
        saved = self.cursor_view.get(POLLER_KEY)
        if saved is not None:
            return saved.payload
        return initial_cursor(int(time.time()), self.settings.initial_lookback_s)

    async def poll_once(self) -> int:
        if self.cursor is None:
            self.cursor = await self.load_cursor()
            log.info("poll cursor loaded", cursor=self.cursor.model_dump())
        cursor = self.cursor
        listed = [b async for b in self.client.iter_baskets(since=cursor.creation_time)]
        new, moved = advance(cursor, listed)
        for basket in new:
            await self.publisher.publish_basket(basket, source="order-ingest/poll")
        if moved != cursor:
            await self._save(moved)
            self.cursor = moved
        self.polls += 1
        return len(new)

    async def _save(self, cursor: SalesPollCursor) -> None:
        event = SalesPollCursorMoved(
            event_id=deterministic_id(POLLER_KEY, cursor.creation_time, *cursor.uids_at_time),
            occurred_at=utcnow(),
            source="order-ingest/poll",
            payload=cursor,
        )
        await publish_event(self.broker, self.cursor_topic, POLLER_KEY, event)

    async def run(self) -> None:
        while True:
            try:
                found = await self.poll_once()
                if found:
                    log.info("poll published new baskets", baskets=found)
            except Exception as exc:  # keep polling; the next round retries from the cursor
                log.warning("poll failed", error=str(exc))
            await asyncio.sleep(self.settings.poll_interval_s)


@dataclass
class Sweeper:
    """Re-publishes recent baskets the ledger does not show as done (lost webhooks, baskets
    back-dated past the poll cursor, cancellations the poller cannot see)."""

    client: ShopboxClient
    publisher: SalesPublisher
    ledger: CompactedView[OrderSynced]
    dead_letters: CompactedView[object]
    settings: OrderIngestSettings
    sweeps: int = 0
    republished: int = 0

    async def sweep_once(self, now: float | None = None) -> int:
        await self.ledger.wait_caught_up()
        await self.dead_letters.wait_caught_up()
        now = time.time() if now is None else now
        since = int(now - self.settings.sweep_window_s)
        count = 0
        async for basket in self.client.iter_baskets(since=since):
            if now - basket.creation_time < self.settings.sweep_grace_s and not basket.canceled:
                continue
            synced = self.ledger.get(basket.uid)
            outcome = synced.payload.outcome if synced else None
            if needs_republish(basket, outcome, self.dead_letters.get(basket.uid) is not None):
                await self.publisher.publish_basket(basket, source="order-ingest/sweep", force=True)
                count += 1
        self.sweeps += 1
        self.republished += count
        return count

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.settings.sweep_interval_s)
            try:
                count = await self.sweep_once()
                log.info("sweep done", republished=count)
            except Exception as exc:
                log.warning("sweep failed", error=str(exc))

"""Ingest: turn signals (webhook, poll, sweep, ledger) into `StockObserved` records.

Every signal only names an item; the absolute quantity per location is always read back from
Rackbeat: `GET /items/{n}/locations` for a plain item, and for an item whose variation options
are bound (variants) the variation matrix of each mapped location
(`GET /products/{n}/variation-matrix?location_id=`), one observation per option, keyed
`item|location|option`. `observed_at` is the moment the read STARTED: the reading then includes
everything Rackbeat did before that moment, which is what pending.py relies on.
A periodic poll publishes only figures that changed (so a poll never re-triggers a write on its
own); webhook and ledger reads always publish, since their fresh `observed_at` matters.

A webhook answered 202 is only queued: a crash before the read loses that signal, and the poll
(changed-since, then a full sweep) finds the change instead.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from decimal import Decimal

from faststream.kafka import KafkaBroker

from domain.stock.levels import location_levels, option_levels
from domain.stock.refresh import RefreshQueue
from schemas.envelope import deterministic_id, utcnow
from schemas.stock import StockLevel, StockObserved, stock_key
from schemas.topics import Topics
from services.clients.http import ApiError, NotFound, is_transient
from services.clients.rackbeat import RackbeatClient
from services.common.kafka import publish_event
from services.common.logging import get_logger
from services.common.periodic import every
from services.common.settings import KafkaSettings
from services.common.views import CompactedView

log = get_logger(__name__)
REFUSED_READ_RETRY_S = 60.0
Figures = tuple[Decimal, Decimal, Decimal]
POLL_OVERLAP = timedelta(seconds=2)  # Rackbeat timestamps have whole seconds


class Ingest:
    def __init__(
        self,
        broker: KafkaBroker,
        topics: Topics,
        rackbeat: RackbeatClient,
        queue: RefreshQueue,
        counters: Counter[str],
        *,
        has_options: Callable[[str], bool] = lambda item: False,
        locations: Iterable[int] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._broker = broker
        self._has_options = has_options
        self._locations = sorted(set(locations))
        self._topics = topics
        self._rackbeat = rackbeat
        self.queue = queue
        self._counters = counters
        self._clock = clock
        self._last: dict[str, Figures] = {}
        self._poll_cursor: datetime | None = None

    async def load_last_published(self, kafka: KafkaSettings) -> None:
        """What this topic already says, so a restart does not re-publish unchanged figures."""
        view = CompactedView(kafka, self._topics.stock, StockObserved)
        await view.start()
        try:
            await view.wait_caught_up()
            self.remember_published(view.items())
        finally:
            await view.stop()

    def remember_published(self, records: Iterable[tuple[str, StockObserved]]) -> None:
        for key, event in records:
            self._last[key] = _figures(event.payload)

    def ask(self, item: str, *, force: bool = False, reason: str = "webhook") -> None:
        self.queue.request(item, self._clock(), force=force, reason=reason)

    # ------------------------------------------------------------------ reading

    async def run_reads(self, concurrency: int = 4) -> None:
        limit = asyncio.Semaphore(concurrency)

        async def one(item: str, force: bool, reason: str) -> None:
            async with limit:
                await self.read_and_publish(item, force=force, source=reason)

        while True:
            due = self.queue.take_due(self._clock())
            if due:
                await asyncio.gather(*(one(item, a.force, a.reason) for item, a in due))
                continue
            await asyncio.sleep(0.02)

    async def read_and_publish(self, item: str, *, force: bool, source: str) -> int:
        """Read one item's stock per location and publish; returns how many were published."""
        started = utcnow()
        try:
            levels = await self._read_levels(item)
        except NotFound:
            self._counters["items_not_found"] += 1
            log.warning("item not in Rackbeat; nothing to observe", item=item)
            return 0
        except ApiError as exc:
            self._counters["read_failures"] += 1
            if is_transient(exc):  # an outage: retry soon, slowing the reads down meanwhile
                log.warning("stock read failed; retrying later", item=item, error=str(exc))
                self.ask(item, force=force, reason=source)
                await asyncio.sleep(1)
                return 0
            # An answer no retry changes (an unreadable shape, a refusal): try again much later,
            # without holding up the reads of every other item meanwhile.
            log.warning("stock read refused; retrying in a minute", item=item[:100], error=str(exc))
            retry = functools.partial(self.ask, item, force=force, reason=source)
            asyncio.get_running_loop().call_later(REFUSED_READ_RETRY_S, retry)
            return 0
        except Exception as exc:  # one unreadable item must not end the reads of every other
            self._counters["read_errors"] += 1
            log.error("stock read failed; item skipped", item=item[:100], error=repr(exc)[:300])
            return 0
        self._counters["reads"] += 1
        published = 0
        for level in levels:
            key = stock_key(item, level.location_number, level.variation_option_id)
            if not force and self._last.get(key) == _figures(level):
                self._counters["observations_unchanged"] += 1
                continue
            event = StockObserved(
                event_id=deterministic_id("rackbeat", "stock", key, started.isoformat()),
                occurred_at=started,
                observed_at=started,
                source=f"stock-publisher/{source}",
                payload=level,
            )
            await publish_event(self._broker, self._topics.stock, key, event)
            self._last[key] = _figures(level)
            self._counters["observations_published"] += 1
            published += 1
        return published

    async def _read_levels(self, item: str) -> list[StockLevel]:
        if not self._has_options(item):
            return location_levels(item, await self._rackbeat.item_stock(item))
        levels: list[StockLevel] = []
        for location in self._locations:  # an unmapped location's variants are never pushed
            rows = await self._rackbeat.variant_stock(item, location=location)
            levels += option_levels(item, location, rows)
        return levels

    # ------------------------------------------------------------------ polling

    async def sweep(self, *, force: bool) -> int:
        """Ask for every item (the start-up sweep forces publication)."""
        count = 0
        async for found in self._rackbeat.iter_items(page_size=1000):
            self.ask(found.number, force=force, reason="sweep")
            count += 1
        self._counters["sweeps"] += 1
        return count

    async def poll_changed(self) -> int:
        """Ask for items Rackbeat reports as updated since the last poll (with overlap)."""
        started = utcnow()
        since = (self._poll_cursor or started) - POLL_OVERLAP
        count = 0
        async for found in self._rackbeat.iter_items(updated_since=since, page_size=1000):
            self.ask(found.number, reason="poll")
            count += 1
        self._poll_cursor = started
        self._counters["polls"] += 1
        return count

    async def run_polls(self, poll_interval_s: float, sweep_interval_s: float) -> None:
        """A forced full sweep at start, then a changed-since poll every `poll_interval_s`,
        replaced by a full sweep once `sweep_interval_s` has passed since the last one."""
        await self.sweep(force=True)
        self._poll_cursor = utcnow()
        last_sweep = self._clock()

        async def poll_or_sweep() -> None:
            nonlocal last_sweep
            if self._clock() - last_sweep >= sweep_interval_s:
                await self.sweep(force=False)
                last_sweep = self._clock()
            else:
                await self.poll_changed()

        def failed(_: Exception) -> None:
            self._counters["poll_failures"] += 1

        await every(
            poll_interval_s, poll_or_sweep, name="stock poll", wait_first=True, on_error=failed
        )


def _figures(level: StockLevel) -> Figures:
    return (level.stock_quantity, level.in_order_quantity, level.available_quantity)

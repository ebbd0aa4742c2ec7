"""The recent-sales follower that feeds `PendingSales`.

`shopbox.sales.v1` is a long-retention stream, so it is read from `now - lookback`, not from the
beginning; a sale older than that which Rackbeat still has not absorbed is order-writer's
dead-letter business, not a stock figure's. No consumer group: every replica needs the whole
picture and there is nothing to commit. (The ledger is a `CompactedView`.)
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from pydantic import ValidationError

from domain.stock.pending import PendingSales, StockSpot
from schemas.envelope import utcnow
from schemas.sales import SaleCancelled, SaleCompleted, SaleRefunded, sales_event_adapter
from services.common.logging import get_logger
from services.common.readers import TopicFollower
from services.common.settings import KafkaSettings

log = get_logger(__name__)
SaleEvent = SaleCompleted | SaleRefunded | SaleCancelled


class SalesFollower(TopicFollower):
    def __init__(
        self,
        kafka: KafkaSettings,
        topic: str,
        pending: PendingSales,
        lookback: timedelta,
        on_live_sale: Callable[[SaleEvent, list[StockSpot]], None] = lambda event, spots: None,
    ) -> None:
        super().__init__(kafka, topic, self._on_sale, start=utcnow() - lookback)
        self._pending = pending
        self._lookback = lookback
        self._on_live_sale = on_live_sale
        """Told of each sale once caught up: the till has just moved Shopbox's stock there."""
        self.skipped = 0

    async def start(self) -> None:
        self._start = utcnow() - self._lookback  # from the moment it starts, not when built
        await super().start()

    def _on_sale(self, record: Any) -> None:
        try:
            event = sales_event_adapter.validate_json(record.value or b"")
        except ValidationError:
            self.skipped += 1  # order-writer dead-letters it; nothing to subtract
            return
        spots = self._pending.on_sale(event)
        if self.caught_up:
            self._on_live_sale(event, spots)

    def on_caught_up(self) -> None:
        log.info("recent sales loaded", baskets=len(self._pending))

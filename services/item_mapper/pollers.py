"""Follow the master side's products and publish a snapshot when the synced fields changed.

Neither side pushes product changes we can rely on (Shopbox has no product webhooks as far as
we know; Rackbeat's product.created/updated names are UNCONFIRMED), so both are polled with an
updated-since filter. The last published snapshot per product is the comparison base (replayed
from the compacted products topic at start), so a touch that changes no synced field, such as
Rackbeat bumping `updated_at` on a stock move, publishes nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

import structlog

from domain.items.rules import rackbeat_snapshot, shopbox_snapshot
from schemas.envelope import deterministic_id, utcnow
from schemas.items import ProductChanged, ProductSnapshot
from services.clients.http import ApiError
from services.clients.rackbeat import RackbeatClient
from services.clients.rackbeat_models import Variation
from services.clients.shopbox import ShopboxClient

log = structlog.get_logger(__name__)

Publish = Callable[[ProductChanged], Awaitable[None]]


def product_event(snapshot: ProductSnapshot, source: str) -> ProductChanged:
    return ProductChanged(
        event_id=deterministic_id(snapshot.system, "product", snapshot.model_dump_json()),
        occurred_at=utcnow(),
        source=source,
        payload=snapshot,
    )


class SnapshotPublisher:
    """Publishes a snapshot only when it differs from the last one published for that id."""

    def __init__(self, publish: Publish, source: str, known: dict[str, ProductSnapshot]) -> None:
        self._publish = publish
        self._source = source
        self.known = known
        self.published = 0

    async def offer(self, snapshot: ProductSnapshot) -> bool:
        if self.known.get(snapshot.product_id) == snapshot:
            return False
        await self._publish(product_event(snapshot, self._source))
        self.known[snapshot.product_id] = snapshot
        self.published += 1
        return True


class ShopboxPoller:
    def __init__(self, client: ShopboxClient, out: SnapshotPublisher) -> None:
        self.client = client
        self.out = out
        self.cursor: int | None = None
        self.last_poll_at: datetime | None = None
        self.last_pass_full = False
        self.full_pass_products: int | None = None
        """products seen by the latest full pass (None before the first)"""

    async def poll_once(self, *, full: bool = False) -> int:
        """One pass over products changed since the last pass (all of them on the first, or
        when `full`). A full pass also drops products Shopbox no longer lists from the table."""
        since = None if full else self.cursor
        changed, newest, seen = 0, self.cursor, set()
        async for product in self.client.iter_products(updated_since=since, per_page=500):
            changed += await self.out.offer(shopbox_snapshot(product))
            seen.add(product.uid)
            if product.updated_at is not None:
                newest = max(newest or 0, product.updated_at)
        self.last_pass_full = since is None
        if since is None:
            for gone in [uid for uid in self.out.known if uid not in seen]:
                del self.out.known[gone]
            self.full_pass_products = len(seen)
        self.cursor, self.last_poll_at = newest, utcnow()
        return changed


class RackbeatPoller:
    def __init__(self, client: RackbeatClient, out: SnapshotPublisher) -> None:
        self.client = client
        self.out = out
        self.cursor: datetime | None = None
        self.last_poll_at: datetime | None = None

    async def poll_once(self) -> int:
        changed, newest, unread = 0, self.cursor, 0
        variations: dict[int, Variation] = {}  # read once per pass, not once per product
        async for product in self.client.iter_products(updated_since=self.cursor, page_size=1000):
            variation = None
            if product.variation_id is not None:
                try:
                    variation = await self._variation(product.variation_id, variations)
                except ApiError as exc:  # one unreadable variation must not stop the pass
                    unread += 1
                    log.warning(
                        "product skipped: variation unreadable",
                        number=product.number,
                        reason=str(exc),
                    )
                    continue
            changed += await self.out.offer(rackbeat_snapshot(product, variation))
            if product.updated_at is not None:
                newest = max(newest, product.updated_at) if newest else product.updated_at
        # With a product skipped, the cursor stays, so the next pass reads it again.
        self.cursor = self.cursor if unread else newest
        self.last_poll_at = utcnow()
        return changed

    async def _variation(self, variation_id: int, read: dict[int, Variation]) -> Variation:
        if variation_id not in read:
            read[variation_id] = await self.client.get_variation(variation_id)
        return read[variation_id]

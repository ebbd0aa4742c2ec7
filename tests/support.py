"""Small helpers shared by tests."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable

from schemas.envelope import utcnow
from schemas.orders import OrderSynced, OrderSyncedPayload
from services.common.readers import open_reader
from services.common.settings import KafkaSettings


async def eventually(
    condition: Callable[[], bool | Awaitable[bool]], timeout: float = 20, every: float = 0.05
) -> None:
    """Wait until `condition()` is true (sync or async); fail with a clear message on timeout."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                result = condition()
                if inspect.isawaitable(result):
                    result = await result
                if result:
                    return
                await asyncio.sleep(every)
    except TimeoutError:
        raise AssertionError(f"condition not met within {timeout} s: {condition}") from None


def ledger_entry(basket_id: str, location: int | None = None) -> OrderSynced:
    """What order-writer records on orders.synced.v1 after creating a basket's booked order."""
    now = utcnow()
    payload = OrderSyncedPayload(
        basket_id=basket_id,
        rackbeat_order_number="1",
        outcome="created",
        booked=True,
        location_number=location,
        synced_at=now,
    )
    return OrderSynced(
        event_id=f"ledger-{basket_id}", occurred_at=now, source="test", payload=payload
    )


async def records_in(kafka_bootstrap: str, topic: str) -> int:
    """How many records were ever written to `topic` (its end offsets, summed over partitions)."""
    opened = await open_reader(KafkaSettings(bootstrap_servers=kafka_bootstrap), topic)
    assert opened is not None, f"no topic {topic}"
    consumer, partitions = opened
    try:
        return sum((await consumer.end_offsets(partitions)).values())
    finally:
        await consumer.stop()

"""The order-writer's effect on Rackbeat, made idempotent: exactly one order per sale.

For every event: consult the ledger (`orders.synced.v1`, plus what this process recorded a
moment ago), then look the order up in Rackbeat by its reference, and only then write. The
lookup is what makes a crash between the Rackbeat write and the ledger record harmless.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from domain.bindings import BindingTable, binding_for
from domain.sales.orders import (
    Kind,
    OrderRules,
    Unmappable,
    build_order,
    location_for,
    order_reference,
)
from schemas.envelope import deterministic_id, utcnow
from schemas.items import Binding
from schemas.orders import OrderOutcome, OrderSynced, OrderSyncedPayload
from schemas.sales import Sale, SaleCancelled, SaleCompleted, SaleLine, SaleRefunded
from services.clients.http import ValidationFailed
from services.clients.rackbeat import NewOrder, Order
from services.common.kafka import Permanent
from services.common.logging import get_logger

log = get_logger(__name__)

SalesEvent = SaleCompleted | SaleRefunded | SaleCancelled
Record = Callable[[str, OrderSynced], Awaitable[None]]
SETTLED: frozenset[OrderOutcome] = frozenset({"created", "found_existing", "cancelled", "refunded"})


class RackbeatOrders(Protocol):
    """The Rackbeat calls the writer makes (`RackbeatClient`, or a fake in unit tests)."""

    async def create_order(
        self, order: NewOrder, *, book: bool, suppress_webhooks: bool = ...
    ) -> Order: ...

    async def find_orders_by_reference(
        self, reference: str, *, created_after: datetime | None = None
    ) -> list[Order]: ...

    async def get_order(self, number: int) -> Order: ...

    async def cancel_order(self, number: int, *, suppress_webhooks: bool = ...) -> Order: ...


class Ledger(Protocol):
    """`orders.synced.v1` as a table (`CompactedView[OrderSynced]`)."""

    def get(self, key: str) -> OrderSynced | None: ...

    async def wait_caught_up(self, timeout_s: float = ...) -> None: ...


class Bindings(BindingTable, Protocol):
    """The bindings table (`BindingsView`)."""

    def problem_of(self, sku: str) -> Binding | None: ...

    async def wait_caught_up(self, timeout_s: float = ...) -> None: ...


@dataclass
class Counters:
    created: int = 0
    found_existing: int = 0
    skipped_by_ledger: int = 0
    cancelled: int = 0
    refunded: int = 0


@dataclass
class OrderWriter:
    rackbeat: RackbeatOrders
    ledger: Ledger
    bindings: Bindings
    record: Record
    rules: OrderRules
    counters: Counters = field(default_factory=Counters)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    _recorded: dict[str, OrderOutcome] = field(default_factory=dict)

    async def handle(self, event: SalesEvent) -> None:
        await self.ready.wait()
        await self.ledger.wait_caught_up()
        await self.bindings.wait_caught_up()
        try:
            if isinstance(event, SaleCancelled):
                await self._cancel(event)
            elif isinstance(event, SaleRefunded):
                await self._create(event, event.payload, "refund")
            else:
                await self._create(event, event.payload, "sale")
        except (Unmappable, ValidationFailed) as exc:
            raise Permanent(str(exc)) from exc

    def outcome(self, basket_id: str) -> OrderOutcome | None:
        if basket_id in self._recorded:
            return self._recorded[basket_id]
        synced = self.ledger.get(basket_id)
        return synced.payload.outcome if synced else None

    async def _create(self, event: SalesEvent, sale: Sale, kind: Kind) -> None:
        if self.outcome(sale.basket_id) in SETTLED:
            self.counters.skipped_by_ledger += 1
            return
        reference = order_reference(sale.basket_id)
        # The order cannot predate its sale; a day's margin covers clocks and time zones.
        existing = await self._find(reference, sale.created_at - timedelta(days=1))
        if existing is not None:
            outcome: OrderOutcome = "cancelled" if existing.is_cancelled else "found_existing"
            self.counters.found_existing += 1
            order = existing
        else:
            new = build_order(sale, kind, self._lookup, self.rules)
            order = await self.rackbeat.create_order(
                new, book=self.rules.book, suppress_webhooks=True
            )
            outcome = "created"
            self.counters.created += 1
            log.info("order created", basket=sale.basket_id, order=order.number, kind=kind)
        if kind == "refund" and outcome != "cancelled":
            outcome = "refunded"
            self.counters.refunded += 1
        location = location_for(sale.branch_id, self.rules)
        await self._record(event, sale.basket_id, order, outcome, reference, location)

    async def _cancel(self, event: SaleCancelled) -> None:
        basket_id = event.payload.basket_id
        if self.outcome(basket_id) == "cancelled":
            self.counters.skipped_by_ledger += 1
            return
        reference = order_reference(basket_id)
        order = await self._find(reference)
        if order is not None and not order.is_cancelled:
            order = await self._cancel_order(order)
            log.info("order cancelled", basket=basket_id, order=order.number)
        elif order is None:
            log.info(
                "cancelled sale has no order; a late completion will be skipped", basket=basket_id
            )
        self.counters.cancelled += 1
        await self._record(event, basket_id, order, "cancelled", reference, None)

    async def _cancel_order(self, order: Order) -> Order:
        try:
            return await self.rackbeat.cancel_order(order.number, suppress_webhooks=True)
        except ValidationFailed:
            # A retried cancel whose first try went through answers "already cancelled".
            current = await self.rackbeat.get_order(order.number)
            if current.is_cancelled:
                return current
            raise

    async def _find(self, reference: str, created_after: datetime | None = None) -> Order | None:
        found = await self.rackbeat.find_orders_by_reference(reference, created_after=created_after)
        if len(found) > 1:
            log.error(
                "several Rackbeat orders carry one Shopbox reference",
                reference=reference,
                orders=[o.number for o in found],
            )
        return min(found, key=lambda o: o.number) if found else None

    def _lookup(self, line: SaleLine) -> Binding | None:
        found = binding_for(self.bindings, line.product_id, line.variant_id, line.sku)
        # Not matched: a binding with a problem says why (the dead letter's reason).
        return found or (self.bindings.problem_of(line.sku) if line.sku else None)

    async def _record(
        self,
        event: SalesEvent,
        basket_id: str,
        order: Order | None,
        outcome: OrderOutcome,
        reference: str,
        location: int | None,
    ) -> None:
        synced = OrderSynced(
            event_id=deterministic_id("order-writer", basket_id, outcome),
            occurred_at=utcnow(),
            source="order-writer",
            causation_id=event.event_id,
            correlation_id=event.correlation_id or event.event_id,
            payload=OrderSyncedPayload(
                basket_id=basket_id,
                rackbeat_order_number=str(order.number) if order else None,
                outcome=outcome,
                booked=bool(order and order.is_booked and not order.is_cancelled),
                location_number=location,
                synced_at=utcnow(),
                reference=reference,
            ),
        )
        await self.record(basket_id, synced)
        self._recorded[basket_id] = outcome

"""The order-writer's effect on Rackbeat, made idempotent: exactly one order per sale.

For every event: consult the ledger (`orders.synced.v1`, plus what this process recorded a
moment ago), then, when an earlier attempt may have written (the record was redelivered, or this
process tried it before), look the order up in Rackbeat by its reference, and only then write.
The lookup is what makes a crash between the Rackbeat write and the ledger record harmless; a
record seen for the first time needs none
(docs/decisions/0012-look-the-order-up-before-creating-it.md).
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
from services.clients.http import NotFound, ValidationFailed
from services.clients.rackbeat_models import NewOrder, Order
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

    async def book_order(self, number: int, *, suppress_webhooks: bool = ...) -> Order: ...

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
    lookups: int = 0
    lookups_skipped: int = 0
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
    # outcome and Rackbeat order number of what this process recorded (the ledger view may lag)
    _recorded: dict[str, tuple[OrderOutcome, str | None]] = field(default_factory=dict)
    _attempted: set[str] = field(default_factory=set)

    async def handle(self, event: SalesEvent, *, redelivered: bool = True) -> bool:
        """Write `event` to Rackbeat; False when the ledger shows it was settled already (a
        duplicate). `redelivered`: the record may have been handled before (the consumer says
        so after a restart or a rebalance); the default is the safe answer."""
        await self.ready.wait()
        await self.ledger.wait_caught_up()
        await self.bindings.wait_caught_up()
        try:
            if isinstance(event, SaleCancelled):
                return await self._cancel(event, redelivered)
            if isinstance(event, SaleRefunded):
                return await self._create(event, event.payload, "refund", redelivered)
            return await self._create(event, event.payload, "sale", redelivered)
        except (Unmappable, ValidationFailed) as exc:
            raise Permanent(str(exc)) from exc

    def outcome(self, basket_id: str) -> OrderOutcome | None:
        return self._settled(basket_id)[0]

    def _settled(self, basket_id: str) -> tuple[OrderOutcome | None, str | None]:
        if basket_id in self._recorded:
            return self._recorded[basket_id]
        synced = self.ledger.get(basket_id)
        if synced is None:
            return None, None
        return synced.payload.outcome, synced.payload.rackbeat_order_number

    def _in_doubt(self, basket_id: str, redelivered: bool) -> bool:
        """An earlier attempt may have reached Rackbeat: the record was redelivered, or this
        process tried it and has no outcome (a lost answer, a retry)."""
        return redelivered or basket_id in self._attempted

    async def _create(self, event: SalesEvent, sale: Sale, kind: Kind, redelivered: bool) -> bool:
        if self.outcome(sale.basket_id) in SETTLED:
            self.counters.skipped_by_ledger += 1
            return False
        reference = order_reference(sale.basket_id)
        existing = None
        if self._in_doubt(sale.basket_id, redelivered):
            # The order cannot predate its sale; a day's margin covers clocks and time zones.
            existing = await self._find(reference, sale.created_at - timedelta(days=1))
        else:
            self.counters.lookups_skipped += 1
        if existing is not None:
            outcome: OrderOutcome = "cancelled" if existing.is_cancelled else "found_existing"
            self.counters.found_existing += 1
            order = existing
        else:
            new = build_order(sale, kind, self._lookup, self.rules)
            self._attempted.add(sale.basket_id)
            order = await self.rackbeat.create_order(
                new, book=self.rules.book, suppress_webhooks=True
            )
            outcome = "created"
            self.counters.created += 1
            log.info("order created", basket=sale.basket_id, order=order.number, kind=kind)
        if self.rules.book and not (order.is_booked or order.is_cancelled):
            order = await self._book(order)
        if kind == "refund" and outcome != "cancelled":
            outcome = "refunded"
            self.counters.refunded += 1
        location = location_for(sale.branch_id, self.rules)
        await self._record(event, sale.basket_id, order, outcome, reference, location)
        return True

    async def _cancel(self, event: SaleCancelled, redelivered: bool) -> bool:
        basket_id = event.payload.basket_id
        if self.outcome(basket_id) == "cancelled":
            self.counters.skipped_by_ledger += 1
            return False
        reference = order_reference(basket_id)
        if self._in_doubt(basket_id, redelivered):
            order = await self._find(reference)
        else:
            order = await self._known_order(basket_id)
        self._attempted.add(basket_id)
        if order is not None and not order.is_cancelled:
            order = await self._cancel_order(order)
            log.info("order cancelled", basket=basket_id, order=order.number)
        elif order is None:
            log.info(
                "cancelled sale has no order; a late completion will be skipped", basket=basket_id
            )
        self.counters.cancelled += 1
        await self._record(event, basket_id, order, "cancelled", reference, None)
        return True

    async def _book(self, order: Order) -> Order:
        """`POST /orders` may leave the order unbooked (docs/api-assumptions.md R17): booking is
        what reserves its stock."""
        try:
            return await self.rackbeat.book_order(order.number, suppress_webhooks=True)
        except ValidationFailed:
            # A retried booking whose first try went through answers "already booked".
            current = await self.rackbeat.get_order(order.number)
            if current.is_booked:
                return current
            raise

    async def _cancel_order(self, order: Order) -> Order:
        try:
            return await self.rackbeat.cancel_order(order.number, suppress_webhooks=True)
        except NotFound as exc:
            # No cancel endpoint on this account (docs/api-assumptions.md R20): a person must.
            raise Permanent(
                f"the sale was voided at the till, but Rackbeat has no cancel endpoint "
                f"({exc.status}): cancel order {order.number} in Rackbeat by hand, then "
                "discard this dead letter"
            ) from exc
        except ValidationFailed:
            # A retried cancel whose first try went through answers "already cancelled".
            current = await self.rackbeat.get_order(order.number)
            if current.is_cancelled:
                return current
            raise

    async def _known_order(self, basket_id: str) -> Order | None:
        """The order the ledger names; none when the ledger has no record of the basket (every
        write of this basket went through this process since the partition was assigned)."""
        number = self._settled(basket_id)[1]
        if number is None:
            self.counters.lookups_skipped += 1
            return None
        return await self.rackbeat.get_order(int(number))

    async def _find(self, reference: str, created_after: datetime | None = None) -> Order | None:
        self.counters.lookups += 1
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
        self._recorded[basket_id] = (outcome, synced.payload.rackbeat_order_number)
        self._attempted.discard(basket_id)

"""The order-writer's effect on Rackbeat, made idempotent: exactly one order per sale.

For every event: consult the ledger (`orders.synced.v1`, plus what this process recorded a
moment ago), then, when an earlier attempt may have written (the record was redelivered, or this
process tried it before), look the order up in Rackbeat by its reference, and only then write.
The lookup is what makes a crash between the Rackbeat write and the ledger record harmless; a
record seen for the first time needs none
(docs/decisions/0012-look-the-order-up-before-creating-it.md).

A sale whose item's stock was copied from Shopbox after the basket is already in the copied
figure (domain/sales/stock_returns.py): after its order, the writer gives the units back as
absolute levels. The levels are recorded on the ledger with the order, before they are written,
and marked written after: a redelivery in between writes the same levels again (an absolute
level may be set twice), and one after it writes nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Protocol

from domain.bindings import BindingTable, binding_for
from domain.items.ports import RackbeatStock
from domain.sales.orders import (
    Kind,
    OrderRules,
    Unmappable,
    build_order,
    location_for,
    order_reference,
)
from domain.sales.stock_returns import Counted, counted_in_copy
from schemas.envelope import deterministic_id, utcnow
from schemas.items import Binding
from schemas.orders import OrderOutcome, OrderSynced, OrderSyncedPayload, StockReturn
from schemas.sales import Sale, SaleCancelled, SaleCompleted, SaleLine, SaleRefunded
from services.clients.http import NotFound, ValidationFailed
from services.clients.rackbeat_models import NewInventoryAdjustment, NewOrder, Order, VariationPick
from services.common.kafka import Permanent
from services.common.logging import get_logger

log = get_logger(__name__)

SalesEvent = SaleCompleted | SaleRefunded | SaleCancelled
Record = Callable[[str, OrderSynced], Awaitable[None]]
SETTLED: frozenset[OrderOutcome] = frozenset({"created", "found_existing", "cancelled", "refunded"})


class RackbeatOrders(RackbeatStock, Protocol):
    """The Rackbeat calls the writer makes (`RackbeatClient`, or a fake in unit tests): orders,
    and the stock reads and levels that give back a sale a copied figure already counts."""

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
    stock_returned: int = 0


@dataclass
class OrderWriter:
    rackbeat: RackbeatOrders
    ledger: Ledger
    bindings: Bindings
    record: Record
    rules: OrderRules
    counters: Counters = field(default_factory=Counters)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    # what this process recorded (the ledger view may lag)
    _recorded: dict[str, OrderSyncedPayload] = field(default_factory=dict)
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
        settled = self._settled(basket_id)
        return settled.outcome if settled else None

    def _settled(self, basket_id: str) -> OrderSyncedPayload | None:
        if basket_id in self._recorded:
            return self._recorded[basket_id]
        synced = self.ledger.get(basket_id)
        return synced.payload if synced else None

    def _in_doubt(self, basket_id: str, redelivered: bool) -> bool:
        """An earlier attempt may have reached Rackbeat: the record was redelivered, or this
        process tried it and has no outcome (a lost answer, a retry)."""
        return redelivered or basket_id in self._attempted

    async def _create(self, event: SalesEvent, sale: Sale, kind: Kind, redelivered: bool) -> bool:
        settled = self._settled(sale.basket_id)
        if settled is not None and settled.outcome in SETTLED:
            if settled.stock_returns and not settled.stock_returned:
                # The order is recorded, its levels may not be written: write the same ones.
                await self._return_stock(event, settled)
                return True
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
        returns = [] if outcome == "cancelled" else await self._stock_returns(sale)
        synced = await self._record(
            event, sale.basket_id, order, outcome, reference, location, returns
        )
        if returns:
            await self._return_stock(event, synced)
        return True

    async def _stock_returns(self, sale: Sale) -> list[StockReturn]:
        """The levels that give back the lines the copied figures already count."""
        return [
            StockReturn(
                item_number=counted.item_number,
                location_number=counted.location,
                variation_id=counted.variation_id,
                option_ids=list(counted.option_ids),
                quantity=counted.quantity,
                level=await self._stock_level(counted) + counted.quantity,
            )
            for counted in counted_in_copy(sale, self._lookup, self.rules)
        ]

    async def _stock_level(self, counted: Counted) -> Decimal:
        """Rackbeat's stock quantity of the item (variant) at the location, now."""
        if counted.variation_id is None:
            rows = await self.rackbeat.item_stock(counted.item_number)
            levels = [r.stock_quantity for r in rows if r.location.number == counted.location]
        else:
            variants = await self.rackbeat.variant_stock(
                counted.item_number, location=counted.location
            )
            levels = [v.stock_quantity for v in variants if v.option_ids == counted.option_ids]
        return levels[0] if levels else Decimal(0)

    async def _return_stock(self, event: SalesEvent, synced: OrderSyncedPayload) -> None:
        """Write the recorded levels, then record that they are written (never twice)."""
        for level in synced.stock_returns:
            await self.rackbeat.create_inventory_adjustment(
                _level_adjustment(level, synced.basket_id), suppress_webhooks=True
            )
        self.counters.stock_returned += 1
        log.info(
            "stock the copied figure already counted given back",
            basket=synced.basket_id,
            levels=len(synced.stock_returns),
        )
        done = synced.model_copy(update={"stock_returned": True, "synced_at": utcnow()})
        await self._publish(event, done, "stock-returned")

    async def _cancel(self, event: SaleCancelled, redelivered: bool) -> bool:
        basket_id = event.payload.basket_id
        settled = self._settled(basket_id)
        if settled is not None and settled.outcome == "cancelled":
            self.counters.skipped_by_ledger += 1
            return False
        if settled is not None and settled.stock_returns and not settled.stock_returned:
            # Levels recorded but maybe not written: the void releases the order's units only.
            await self._return_stock(event, settled)
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
        settled = self._settled(basket_id)
        number = settled.rackbeat_order_number if settled else None
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
        returns: list[StockReturn] | None = None,
    ) -> OrderSyncedPayload:
        payload = OrderSyncedPayload(
            basket_id=basket_id,
            rackbeat_order_number=str(order.number) if order else None,
            outcome=outcome,
            booked=bool(order and order.is_booked and not order.is_cancelled),
            location_number=location,
            synced_at=utcnow(),
            reference=reference,
            stock_returns=returns or [],
        )
        await self._publish(event, payload, outcome)
        self._attempted.discard(basket_id)
        return payload

    async def _publish(self, event: SalesEvent, payload: OrderSyncedPayload, step: str) -> None:
        synced = OrderSynced(
            event_id=deterministic_id("order-writer", payload.basket_id, step),
            occurred_at=utcnow(),
            source="order-writer",
            causation_id=event.event_id,
            correlation_id=event.correlation_id or event.event_id,
            payload=payload,
        )
        await self.record(payload.basket_id, synced)
        self._recorded[payload.basket_id] = payload


def _level_adjustment(level: StockReturn, basket_id: str) -> NewInventoryAdjustment:
    """An absolute level, negative ones too (a redelivery may set it twice)."""
    variation = level.variation_id
    picks = (
        []
        if variation is None
        else [VariationPick(variation_id=variation, option_id=o) for o in level.option_ids]
    )
    return NewInventoryAdjustment(
        item_number=level.item_number,
        location_number=level.location_number,
        quantity=level.level,
        reason="Sale already in the stock copied from Shopbox",
        description=f"Shopbox basket {basket_id}",
        variations=picks,
    )

"""In-memory fakes of the ports the service layer talks through, for millisecond unit tests.

They stand in for the API clients and the Kafka tables only in `tests/unit`; every behaviour
they imitate is also exercised against the simulators and the real broker by the contract,
integration and e2e tests.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

from schemas.items import Binding
from services.clients import rackbeat_models as rb
from services.clients import shopbox as sb
from services.clients.http import ApiError, NotFound, ServerError, ValidationFailed
from services.clients.rackbeat import carries_reference

T = TypeVar("T")


class LostAnswer(ServerError):
    """What a client raises when Rackbeat applied a write but its answer never came back."""

    def __init__(self) -> None:
        super().__init__("Rackbeat", "POST /orders", 500, "answer lost")


@dataclass
class FakeTable(Generic[T]):
    """A compacted-topic table (`CompactedView`) already caught up."""

    values: dict[str, T] = field(default_factory=dict)
    caught_up: bool = True

    def get(self, key: str) -> T | None:
        return self.values.get(key)

    def items(self) -> list[tuple[str, T]]:
        return list(self.values.items())

    def __len__(self) -> int:
        return len(self.values)

    async def wait_caught_up(self, timeout_s: float = 60) -> None:
        return None


@dataclass
class FakeBindings:
    """The bindings table with the lookups the services use."""

    bindings: list[Binding] = field(default_factory=list)
    caught_up: bool = True

    def by_sku(self, sku: str) -> Binding | None:
        return next((b for b in self.bindings if b.sku == sku and not b.problem), None)

    def by_shopbox(self, product_id: str, variant_id: str | None = None) -> Binding | None:
        return next(
            (
                b
                for b in self.bindings
                if (b.shopbox_product_id, b.shopbox_variant_id) == (product_id, variant_id)
                and not b.problem
            ),
            None,
        )

    def by_rackbeat(self, item_number: str, variant: str | None = None) -> Binding | None:
        return next(
            (
                b
                for b in self.bindings
                if (b.rackbeat_item_number, b.variant_key()) == (item_number, variant)
                and not b.problem
            ),
            None,
        )

    def problem_of(self, sku: str) -> Binding | None:
        return next((b for b in self.bindings if b.sku == sku and b.problem), None)

    async def wait_caught_up(self, timeout_s: float = 60) -> None:
        return None


StockKey = tuple[str, int, tuple[int, ...]]
"""(item number, location, the variant's option ids; empty for a plain item)"""


@dataclass
class FakeRackbeatOrders:
    """Rackbeat's orders: create (booked or draft), find by reference, read, cancel; and stock
    quantities per item, location and variant, read and set by inventory adjustments.

    `lose_next_answers` makes that many creates take effect and then fail, as a lost answer
    (a 5xx after the write) does; `calls` counts every call by name.
    """

    orders: dict[int, rb.Order] = field(default_factory=dict)
    stock: dict[StockKey, Decimal] = field(default_factory=dict)
    adjustments: list[rb.NewInventoryAdjustment] = field(default_factory=list)
    lose_next_answers: int = 0
    creates_booked: bool = True  # False: `POST /orders` leaves the order unbooked
    has_cancel_endpoint: bool = True
    calls: dict[str, int] = field(default_factory=dict)
    _numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1001))

    def _count(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1

    async def create_order(
        self, order: rb.NewOrder, *, book: bool, suppress_webhooks: bool = False
    ) -> rb.Order:
        self._count("create_order")
        created = rb.Order(
            number=next(self._numbers),
            heading=order.heading,
            their_reference=order.their_reference,
            is_booked=book and self.creates_booked,
            lines=[
                rb.OrderLine(
                    item=rb.OrderLineItem(number=line.item_id),
                    quantity=line.quantity,
                    line_price=line.line_price or Decimal(0),
                )
                for line in order.lines
            ],
        )
        self.orders[created.number] = created
        if self.lose_next_answers:
            self.lose_next_answers -= 1
            raise LostAnswer
        return created

    async def find_orders_by_reference(
        self, reference: str, *, created_after: datetime | None = None
    ) -> list[rb.Order]:
        self._count("find_orders_by_reference")
        return [o for o in self.orders.values() if carries_reference(o, reference)]

    async def get_order(self, number: int) -> rb.Order:
        self._count("get_order")
        return self.orders[number]

    async def book_order(self, number: int, *, suppress_webhooks: bool = False) -> rb.Order:
        self._count("book_order")
        order = self.orders[number]
        if order.is_booked:
            call = f"POST /orders/{number}/book"
            raise ValidationFailed("Rackbeat", call, {"order": ["The order is already booked."]})
        booked = order.model_copy(update={"is_booked": True})
        self.orders[number] = booked
        return booked

    async def cancel_order(self, number: int, *, suppress_webhooks: bool = False) -> rb.Order:
        self._count("cancel_order")
        if not self.has_cancel_endpoint:
            raise NotFound("Rackbeat", f"POST /orders/{number}/cancel", 404, "Not Found")
        order = self.orders[number]
        if order.is_cancelled:
            call = f"POST /orders/{number}/cancel"
            raise ValidationFailed("Rackbeat", call, {"order": ["The order is cancelled."]})
        cancelled = order.model_copy(update={"is_cancelled": True})
        self.orders[number] = cancelled
        return cancelled

    async def item_stock(self, number: str) -> list[rb.ItemLocationStock]:
        self._count("item_stock")
        return [
            rb.ItemLocationStock(location=rb.LocationRef(number=location), stock_quantity=level)
            for (item, location, options), level in self.stock.items()
            if item == number and not options
        ]

    async def variant_stock(
        self, number: str, *, location: int | None = None
    ) -> list[rb.VariantStock]:
        self._count("variant_stock")
        return [
            rb.VariantStock(
                options=[rb.LineVariation(variation_id=1, option_id=o) for o in options],
                stock_quantity=level,
            )
            for (item, at, options), level in self.stock.items()
            if item == number and options and location in (None, at)
        ]

    async def create_inventory_adjustment(
        self, adjustment: rb.NewInventoryAdjustment, *, suppress_webhooks: bool = False
    ) -> rb.InventoryAdjustment | None:
        self._count("create_inventory_adjustment")
        options = tuple(sorted(pick.option_id for pick in adjustment.variations))
        key = (adjustment.item_number, adjustment.location_number, options)
        self.stock[key] = adjustment.quantity
        self.adjustments.append(adjustment)
        return rb.InventoryAdjustment(id=len(self.adjustments), is_booked=True)


@dataclass
class FakeShopboxStock:
    """Shopbox stock per branch and (product, variance), read in listings and set absolutely."""

    stock: dict[str, dict[tuple[str, str | None], Decimal]] = field(default_factory=dict)
    baskets: list[sb.Basket] = field(default_factory=list)
    writes: list[tuple[str, str, str | None, Decimal]] = field(default_factory=list)
    fail_next_writes: list[ApiError] = field(default_factory=list)

    async def branches(self) -> list[sb.Branch]:
        return [sb.Branch(uid=uid, name=f"Branch {uid}") for uid in self.stock]

    async def iter_stock(
        self, branch: str, *, per_page: int = 250
    ) -> AsyncIterator[sb.InventoryRow]:
        for (product, variant), quantity in self.stock.get(branch, {}).items():
            yield sb.InventoryRow(uid=product, product_variance=variant, quantity=quantity)

    async def set_stock(
        self,
        branch: str,
        product: str,
        quantity: Decimal | int,
        *,
        product_variance: str | None = None,
        note: str = "",
    ) -> Any:
        if self.fail_next_writes:
            raise self.fail_next_writes.pop(0)
        self.stock.setdefault(branch, {})[(product, product_variance)] = Decimal(quantity)
        self.writes.append((branch, product, product_variance, Decimal(quantity)))
        return None

    async def iter_baskets(
        self, *, since: int | None = None, per_page: int = 50
    ) -> AsyncIterator[sb.Basket]:
        for basket in self.baskets:
            if since is None or basket.creation_time >= since:
                yield basket


@dataclass
class Published:
    """Records every (topic, key, event) a service publishes."""

    records: list[tuple[str, str, Any]] = field(default_factory=list)

    async def __call__(self, topic: str, key: str, event: Any) -> None:
        self.records.append((topic, key, event))

    def on(self, topic: str) -> list[Any]:
        return [event for t, _, event in self.records if t == topic]


@dataclass
class Sent:
    topic: str
    key: bytes | None
    value: bytes | None
    headers: dict[str, str]


@dataclass
class FakeBroker:
    """Records what a service publishes (`KafkaBroker.publish`), decoded per topic on demand."""

    sent: list[Sent] = field(default_factory=list)

    async def publish(
        self,
        message: Any,
        topic: str = "",
        *,
        key: bytes | Any | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        self.sent.append(Sent(topic, key, message, dict(headers or {})))
        return None

    def on(self, topic: str) -> list[Sent]:
        return [s for s in self.sent if s.topic == topic]

    def events_on(self, topic: str) -> list[Any]:
        from schemas.stock import StockPushed

        return [StockPushed.model_validate_json(s.value or b"") for s in self.on(topic)]

"""OrderWriter through fakes: exactly one Rackbeat order per sale, whatever is redelivered, lost
or cancelled. (tests/e2e/test_sales_pipeline.py proves the same with processes, the real broker
and the simulator.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from domain.sales.orders import MissingBinding, OrderRules, order_reference
from schemas.envelope import deterministic_id
from schemas.items import Binding
from schemas.orders import OrderSynced
from schemas.sales import (
    Sale,
    SaleCancelled,
    SaleCancelledPayload,
    SaleCompleted,
    SaleLine,
    SaleRefunded,
)
from services.clients import rackbeat_models as rb
from services.clients.http import ServerError
from services.common.kafka import Permanent
from services.order_writer.writer import OrderWriter
from tests.unit.fakes import FakeBindings, FakeRackbeatOrders, FakeTable, LostAnswer

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
COFFEE = Binding(sku="KAF-1", shopbox_product_id="1", rackbeat_item_number="KAF-1")
RULES = OrderRules(
    customer_number=1,
    book=True,
    vat_percent=Decimal(25),
    shopbox_prices_include_vat=True,
    rackbeat_prices_include_vat=False,
    branch_locations={"10": 1},
)


def sale(basket: str, quantity: int = 2, product: str = "1") -> Sale:
    line = SaleLine(
        product_id=product, sku="KAF-1", name="Kaffe", quantity=Decimal(quantity),
        unit_price=Decimal("50.00"), discount=Decimal(0),
    )  # fmt: skip
    return Sale(
        basket_id=basket, branch_id="10", created_at=NOW, lines=[line],
        total=Decimal(50 * quantity),
    )  # fmt: skip


def completed(basket: str, **kwargs: object) -> SaleCompleted:
    return SaleCompleted(
        event_id=deterministic_id("t", basket), occurred_at=NOW, source="test",
        payload=sale(basket, **kwargs),  # type: ignore[arg-type]
    )  # fmt: skip


def refunded(basket: str) -> SaleRefunded:
    return SaleRefunded(
        event_id=deterministic_id("t", basket, "refund"), occurred_at=NOW, source="test",
        payload=sale(basket, quantity=-1),
    )  # fmt: skip


def cancelled(basket: str) -> SaleCancelled:
    return SaleCancelled(
        event_id=deterministic_id("t", basket, "cancel"), occurred_at=NOW, source="test",
        payload=SaleCancelledPayload(basket_id=basket, branch_id="10", cancelled_at=NOW),
    )  # fmt: skip


class World:
    def __init__(self, bindings: list[Binding] | None = None) -> None:
        self.rackbeat = FakeRackbeatOrders()
        self.ledger: FakeTable[OrderSynced] = FakeTable()
        self.recorded: list[OrderSynced] = []
        self.writer = OrderWriter(
            self.rackbeat,
            self.ledger,
            FakeBindings([COFFEE] if bindings is None else bindings),
            self.record,
            RULES,
        )
        self.writer.ready.set()

    async def record(self, basket_id: str, synced: OrderSynced) -> None:
        self.recorded.append(synced)
        self.ledger.values[basket_id] = synced

    def outcomes(self) -> list[str]:
        return [r.payload.outcome for r in self.recorded]

    def restarted(self) -> OrderWriter:
        """A new process: the ledger survives (it is in Kafka), the process's memory does not."""
        writer = OrderWriter(self.rackbeat, self.ledger, self.writer.bindings, self.record, RULES)
        writer.ready.set()
        return writer


async def test_a_sale_becomes_one_booked_order_recorded_on_the_ledger() -> None:
    world = World()
    await world.writer.handle(completed("900001"))
    (order,) = world.rackbeat.orders.values()
    assert order.is_booked and order.lines[0].item_number == "KAF-1"
    assert order.lines[0].quantity == 2
    assert world.outcomes() == ["created"]
    assert world.recorded[0].payload.rackbeat_order_number == str(order.number)
    assert world.recorded[0].payload.reference == order_reference("900001")


async def test_a_redelivered_sale_is_skipped_by_the_ledger_without_asking_rackbeat() -> None:
    world = World()
    assert await world.writer.handle(completed("900001"))
    calls = dict(world.rackbeat.calls)
    assert not await world.restarted().handle(completed("900001"))  # a duplicate: no latency
    assert len(world.rackbeat.orders) == 1
    assert world.rackbeat.calls == calls


async def test_a_crash_between_the_write_and_the_ledger_record_is_settled_by_the_lookup() -> None:
    world = World()
    await world.writer.handle(completed("900001"))
    world.ledger.values.clear()  # the ledger record never made it
    world.recorded.clear()
    writer = world.restarted()
    await writer.handle(completed("900001"))
    assert len(world.rackbeat.orders) == 1
    assert world.outcomes() == ["found_existing"]
    assert writer.counters.found_existing == 1


async def test_a_lost_answer_is_not_retried_blindly() -> None:
    world = World()
    world.rackbeat.lose_next_answers = 1
    with pytest.raises(LostAnswer):
        await world.writer.handle(completed("900001"))
    await world.writer.handle(completed("900001"))  # the redelivery
    assert len(world.rackbeat.orders) == 1
    assert world.outcomes() == ["found_existing"]


async def test_a_cancelled_sale_cancels_its_order_once() -> None:
    world = World()
    await world.writer.handle(completed("900001"))
    assert await world.writer.handle(cancelled("900001"))
    assert not await world.restarted().handle(cancelled("900001"))
    (order,) = world.rackbeat.orders.values()
    assert order.is_cancelled
    assert world.rackbeat.calls["cancel_order"] == 1
    assert world.outcomes() == ["created", "cancelled"]


async def test_a_cancel_whose_first_try_went_through_is_accepted() -> None:
    world = World()
    await world.writer.handle(completed("900001"))
    (number,) = world.rackbeat.orders
    world.rackbeat.orders[number] = world.rackbeat.orders[number].model_copy(
        update={"is_cancelled": True}
    )
    world.ledger.values.clear()
    await world.restarted().handle(cancelled("900001"))
    assert world.outcomes()[-1] == "cancelled"


async def test_a_cancellation_before_the_order_makes_a_late_completion_a_no_op() -> None:
    world = World()
    await world.writer.handle(cancelled("900001"))
    await world.writer.handle(completed("900001"))
    assert world.rackbeat.orders == {}
    assert world.outcomes() == ["cancelled"]


async def test_a_refund_is_a_separate_order_with_negative_quantities() -> None:
    world = World()
    await world.writer.handle(completed("900001"))
    await world.writer.handle(refunded("900002"))
    refund = max(world.rackbeat.orders.values(), key=lambda o: o.number)
    assert refund.lines[0].quantity == -1
    assert world.outcomes() == ["created", "refunded"]


async def test_an_unbound_sku_waits_and_an_unmapped_branch_is_permanent() -> None:
    world = World(bindings=[])
    with pytest.raises(MissingBinding):
        await world.writer.handle(completed("900001"))
    world = World()
    event = completed("900001")
    elsewhere = event.model_copy(
        update={"payload": event.payload.model_copy(update={"branch_id": "99"})}
    )
    with pytest.raises(Permanent, match="99"):
        await world.writer.handle(elsewhere)
    assert world.rackbeat.orders == {}


async def test_a_first_delivery_creates_with_one_call_and_no_lookup() -> None:
    world = World()
    for basket in ("900001", "900002", "900003"):
        await world.writer.handle(completed(basket), redelivered=False)
    assert world.rackbeat.calls == {"create_order": 3}
    assert world.writer.counters.lookups_skipped == 3


async def test_a_lost_answer_on_a_first_delivery_is_looked_up_on_the_retry() -> None:
    world = World()
    world.rackbeat.lose_next_answers = 1
    with pytest.raises(LostAnswer):
        await world.writer.handle(completed("900001"), redelivered=False)
    await world.writer.handle(completed("900001"), redelivered=False)  # the in-process retry
    assert len(world.rackbeat.orders) == 1
    assert world.outcomes() == ["found_existing"]


async def test_a_first_delivery_cancel_uses_the_ledgers_order_number_instead_of_a_search() -> None:
    world = World()
    await world.writer.handle(completed("900001"), redelivered=False)
    await world.writer.handle(cancelled("900001"), redelivered=False)
    (order,) = world.rackbeat.orders.values()
    assert order.is_cancelled
    assert "find_orders_by_reference" not in world.rackbeat.calls
    assert world.outcomes() == ["created", "cancelled"]


async def test_an_order_rackbeat_leaves_unbooked_is_booked_once() -> None:
    world = World()
    world.rackbeat.creates_booked = False
    world.rackbeat.lose_next_answers = 1
    with pytest.raises(LostAnswer):
        await world.writer.handle(completed("900001"))
    await world.writer.handle(completed("900001"))  # found unbooked on the retry: booked now
    await world.restarted().handle(completed("900001"))
    (order,) = world.rackbeat.orders.values()
    assert order.is_booked
    assert world.rackbeat.calls["book_order"] == 1
    assert world.recorded[-1].payload.booked


async def test_a_void_without_a_cancel_endpoint_is_a_dead_letter_naming_the_order() -> None:
    world = World()
    world.rackbeat.has_cancel_endpoint = False
    await world.writer.handle(completed("900001"))
    (number,) = world.rackbeat.orders
    with pytest.raises(Permanent, match=f"cancel order {number} in Rackbeat by hand"):
        await world.writer.handle(cancelled("900001"))
    assert world.outcomes() == ["created"]  # nothing claims the order was cancelled


# A sale the copied stock figure already counts (domain/sales/stock_returns.py): item-mapper
# created KAF-1 after the sale, with Shopbox's figure (8 on the shelf, 1 sold: 7).
SPOT = ("KAF-1", 1, ())


def copied(at: datetime, **fields: object) -> Binding:
    return COFFEE.model_copy(update={"stock_copied_at": at, **fields})


def copied_world(at: datetime, level: int = 7, **fields: object) -> World:
    world = World(bindings=[copied(at, **fields)])
    world.rackbeat.stock[SPOT] = Decimal(level)
    return world


async def test_a_sale_made_before_its_items_stock_was_copied_is_given_back_once() -> None:
    world = copied_world(NOW + timedelta(minutes=5))
    await world.writer.handle(completed("900001", quantity=1))
    (order,) = world.rackbeat.orders.values()
    assert order.is_booked  # the order reserves the unit ...
    assert world.rackbeat.stock[SPOT] == 8  # ... so the level gives it back: available 7
    (adjustment,) = world.rackbeat.adjustments
    assert not adjustment.relative and adjustment.location_number == 1
    assert world.outcomes() == ["created", "created"]
    assert [r.payload.stock_returned for r in world.recorded] == [False, True]
    assert world.recorded[0].payload.stock_returns[0].level == 8
    assert world.writer.counters.stock_returned == 1
    # Redelivered after that: nothing is written again.
    assert not await world.restarted().handle(completed("900001", quantity=1))
    assert len(world.rackbeat.adjustments) == 1 and world.rackbeat.stock[SPOT] == 8


async def test_a_sale_made_after_the_copy_is_taken_off_by_its_order_only() -> None:
    world = copied_world(NOW - timedelta(minutes=5))
    await world.writer.handle(completed("900001", quantity=1))
    assert len(world.rackbeat.orders) == 1
    assert world.rackbeat.adjustments == [] and world.rackbeat.stock[SPOT] == 7
    assert "item_stock" not in world.rackbeat.calls
    assert world.outcomes() == ["created"]
    assert world.recorded[0].payload.stock_returns == []


async def test_a_binding_without_a_copy_time_gives_nothing_back() -> None:
    world = World()  # an item that existed before, or a binding from before the field
    world.rackbeat.stock[SPOT] = Decimal(7)
    await world.writer.handle(completed("900001", quantity=1))
    assert world.rackbeat.adjustments == [] and world.outcomes() == ["created"]


async def test_a_crash_before_the_level_is_written_writes_the_recorded_level_on_redelivery() -> (
    None
):
    world = copied_world(NOW + timedelta(minutes=5))
    failing = world.rackbeat.create_inventory_adjustment

    async def down(*args: object, **kwargs: object) -> rb.InventoryAdjustment:
        raise ServerError("Rackbeat", "POST /inventory-adjustments", 503, "down")

    world.rackbeat.create_inventory_adjustment = down  # type: ignore[method-assign]
    with pytest.raises(ServerError):
        await world.writer.handle(completed("900001", quantity=1))
    assert world.outcomes() == ["created"]  # the order and its level, not yet written
    world.rackbeat.stock[SPOT] = Decimal(7)
    world.rackbeat.create_inventory_adjustment = failing  # type: ignore[method-assign]
    assert await world.restarted().handle(completed("900001", quantity=1))
    assert len(world.rackbeat.orders) == 1 and world.rackbeat.stock[SPOT] == 8
    assert [r.payload.stock_returned for r in world.recorded] == [False, True]


async def test_a_crash_after_the_level_is_written_sets_the_same_level_again_not_a_higher_one() -> (
    None
):
    world = copied_world(NOW + timedelta(minutes=5))
    record = world.record

    async def lost_after_the_first(basket_id: str, synced: OrderSynced) -> None:
        if synced.payload.stock_returned:
            raise ServerError("Kafka", "publish", None, "broker gone")
        await record(basket_id, synced)

    world.writer.record = lost_after_the_first
    with pytest.raises(ServerError):
        await world.writer.handle(completed("900001", quantity=1))
    assert world.rackbeat.stock[SPOT] == 8
    await world.restarted().handle(completed("900001", quantity=1))
    assert world.rackbeat.stock[SPOT] == 8  # the recorded level, not 8 + 1
    assert [a.quantity for a in world.rackbeat.adjustments] == [8, 8]
    assert world.recorded[-1].payload.stock_returned


async def test_a_refund_made_before_the_copy_takes_the_units_the_till_added_back_off_again() -> (
    None
):
    world = copied_world(NOW + timedelta(minutes=5), level=9)
    await world.writer.handle(refunded("900002"))
    assert world.outcomes() == ["refunded", "refunded"]
    assert world.rackbeat.stock[SPOT] == 8
    (adjustment,) = world.rackbeat.adjustments
    assert not adjustment.relative


async def test_a_variant_line_sets_the_level_of_its_variant() -> None:
    binding = copied(
        NOW + timedelta(minutes=5),
        shopbox_variant_id="v-m",
        rackbeat_variation_id="40",
        rackbeat_option_ids=["401", "502"],
    )
    world = World(bindings=[binding])
    world.rackbeat.stock[("KAF-1", 1, (401, 502))] = Decimal(3)
    world.rackbeat.stock[("KAF-1", 1, (402, 502))] = Decimal(5)
    event = completed("900001", quantity=2)
    line = event.payload.lines[0].model_copy(update={"variant_id": "v-m"})
    event = event.model_copy(update={"payload": event.payload.model_copy(update={"lines": [line]})})
    await world.writer.handle(event)
    (adjustment,) = world.rackbeat.adjustments
    assert adjustment.quantity == 5 and not adjustment.relative
    assert sorted(p.option_id for p in adjustment.variations) == [401, 502]
    assert {p.variation_id for p in adjustment.variations} == {40}
    assert world.rackbeat.stock[("KAF-1", 1, (402, 502))] == 5  # the other variant untouched


async def test_a_void_after_a_crash_before_the_level_writes_the_level_then_cancels() -> None:
    world = copied_world(NOW + timedelta(minutes=5))
    written = world.rackbeat.create_inventory_adjustment

    async def down(*args: object, **kwargs: object) -> rb.InventoryAdjustment:
        raise ServerError("Rackbeat", "POST /inventory-adjustments", 503, "down")

    world.rackbeat.create_inventory_adjustment = down  # type: ignore[method-assign]
    with pytest.raises(ServerError):
        await world.writer.handle(completed("900001", quantity=1))
    world.rackbeat.create_inventory_adjustment = written  # type: ignore[method-assign]
    await world.restarted().handle(cancelled("900001"))
    (order,) = world.rackbeat.orders.values()
    assert order.is_cancelled and world.rackbeat.stock[SPOT] == 8  # 8 on the shelf again
    assert world.outcomes() == ["created", "created", "cancelled"]

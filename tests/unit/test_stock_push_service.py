"""Pusher and Reconciler through fakes: coalesce, hold, skip-equal, retry, dead-letter and drift
correction in milliseconds. (tests/e2e/test_stock_*.py prove the same with processes, the real
broker and the simulators.)"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from domain.stock.coalesce import PushBuffer
from domain.stock.pending import PendingSales
from schemas.envelope import deterministic_id
from schemas.items import Binding
from schemas.orders import OrderSynced, OrderSyncedPayload
from schemas.sales import Sale, SaleCompleted, SaleLine
from schemas.stock import StockLevel, StockObserved, stock_key
from schemas.topics import Topics
from services.clients.http import ServerError, ValidationFailed
from services.clients.shopbox import Basket
from services.common.settings import KafkaSettings
from services.stock_publisher.push import Pusher
from services.stock_publisher.reconcile import Reconciler
from tests.unit.fakes import FakeBindings, FakeBroker, FakeShopboxStock, FakeTable

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
TOPICS = Topics("t.")
BREAD = Binding(sku="BRD-1", shopbox_product_id="100", rackbeat_item_number="BRD-1")
BRANCHES = {"1": 1}


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class World:
    def __init__(self, shopbox_figure: Decimal | None = None) -> None:
        self.clock = Clock()
        self.shopbox = FakeShopboxStock()
        if shopbox_figure is not None:
            self.shopbox.stock = {"1": {("100", None): shopbox_figure}}
        self.broker = FakeBroker()
        self.counters: Counter[str] = Counter()
        self.unmapped: dict[str, set[str]] = {"skus": set(), "locations": set()}
        self.pending = PendingSales(BRANCHES, lambda line: line.sku)
        self.pusher = Pusher(
            KafkaSettings(),
            self.broker,
            TOPICS,
            self.shopbox,
            FakeBindings([BREAD]),
            self.pending,
            BRANCHES,
            mode="available",
            safety_buffer={},
            buffer=PushBuffer(quiet_s=0.5, max_delay_s=3),
            counters=self.counters,
            unmapped=self.unmapped,
            clock=self.clock,
        )
        self.offset = 0

    def observe(self, available: int, at: datetime, item: str = "BRD-1") -> StockObserved:
        level = StockLevel(
            item_number=item, location_number=1, stock_quantity=Decimal(available),
            in_order_quantity=Decimal(0), available_quantity=Decimal(available),
        )  # fmt: skip
        event = StockObserved(
            event_id=deterministic_id("obs", item, at.isoformat()), occurred_at=at,
            observed_at=at, source="test", payload=level,
        )  # fmt: skip
        key = stock_key(item, 1, None)
        self.pusher.buffer.offer(key, event, 0, self.offset, self.clock())
        self.offset += 1
        return event

    async def flush_after(self, seconds: float) -> None:
        self.clock.now += seconds
        await self.pusher.flush_due()

    def pushed(self) -> list[Decimal]:
        return [event.payload.quantity for event in self.broker.events_on(TOPICS.stock_pushed)]


def sale(basket: str, quantity: int, at: datetime) -> SaleCompleted:
    line = SaleLine(
        product_id="100", sku="BRD-1", name="Brød", quantity=Decimal(quantity),
        unit_price=Decimal(30), discount=Decimal(0),
    )  # fmt: skip
    payload = Sale(basket_id=basket, branch_id="1", created_at=at, lines=[line], total=Decimal(30))
    return SaleCompleted(event_id=basket, occurred_at=at, source="test", payload=payload)


def booked(basket: str, at: datetime) -> OrderSynced:
    payload = OrderSyncedPayload(
        basket_id=basket, rackbeat_order_number="1001", outcome="created", booked=True,
        location_number=1, synced_at=at, reference=f"shopbox-basket-{basket}",
    )  # fmt: skip
    return OrderSynced(event_id=f"l-{basket}", occurred_at=at, source="test", payload=payload)


async def test_a_burst_of_observations_becomes_one_write_of_the_newest() -> None:
    world = World(shopbox_figure=Decimal(4))
    world.observe(7, T0)
    world.observe(5, T0 + timedelta(seconds=1))
    world.observe(6, T0 - timedelta(seconds=1))  # older than what is buffered: dropped
    await world.flush_after(0.1)
    assert world.shopbox.writes == []  # not quiet yet
    await world.flush_after(1)
    assert world.shopbox.writes == [("1", "100", None, Decimal(5))]
    assert world.pushed() == [Decimal(5)]
    assert world.broker.events_on(TOPICS.stock_pushed)[0].payload.previous_quantity == 4


async def test_an_equal_figure_is_not_written() -> None:
    world = World(shopbox_figure=Decimal(5))
    world.observe(5, T0)
    await world.flush_after(1)
    assert world.shopbox.writes == []
    assert world.counters["writes_skipped_equal"] == 1


async def test_pending_sales_are_subtracted_and_an_ambiguous_reading_is_held() -> None:
    world = World(shopbox_figure=Decimal(10))
    world.pending.on_sale(sale("900001", 2, T0))
    world.observe(10, T0 + timedelta(seconds=1))  # Rackbeat has not booked the sale yet
    await world.flush_after(1)
    assert world.shopbox.writes[-1][3] == Decimal(8)
    # The order is booked after the next reading was taken: it may or may not include it.
    world.observe(8, T0 + timedelta(seconds=2))
    world.pending.on_ledger("900001", booked("900001", T0 + timedelta(seconds=3)))
    await world.flush_after(1)
    assert world.counters["held_for_fresh_read"] >= 1
    assert len(world.shopbox.writes) == 1
    world.observe(8, T0 + timedelta(seconds=4))  # the fresh read after the booking
    await world.flush_after(1)
    assert world.shopbox.writes[-1][3] == Decimal(8)


async def test_negative_availability_is_written_as_zero() -> None:
    world = World(shopbox_figure=Decimal(3))
    world.observe(-2, T0)
    await world.flush_after(1)
    assert world.shopbox.writes == [("1", "100", None, Decimal(0))]
    assert world.counters["clamped_to_zero"] == 1


async def test_a_shopbox_outage_retries_and_a_refusal_is_dead_lettered() -> None:
    world = World(shopbox_figure=Decimal(1))
    world.shopbox.fail_next_writes = [ServerError("Shopbox", "POST /product-inventories", 503, "")]
    world.observe(5, T0)
    await world.flush_after(1)
    assert world.shopbox.writes == [] and world.counters["write_retries"] == 1
    await world.flush_after(60)
    assert world.shopbox.writes == [("1", "100", None, Decimal(5))]
    refusal = ValidationFailed("Shopbox", "POST /product-inventories", {"quantity": ["bad"]})
    world.shopbox.fail_next_writes = [refusal]
    world.observe(6, T0 + timedelta(seconds=5))
    await world.flush_after(1)
    (letter,) = world.broker.on(f"{TOPICS.stock}.dlq")
    assert "quantity: bad" in letter.headers["x-dlq-reason"]
    assert letter.headers["x-dlq-origin"] == f"{TOPICS.stock}/0/1"


async def test_an_unbound_item_is_reported_and_not_written() -> None:
    world = World(shopbox_figure=Decimal(1))
    world.observe(5, T0, item="UNBOUND")
    await world.flush_after(1)
    assert world.shopbox.writes == []
    assert world.unmapped["skus"] == {"UNBOUND"}


async def test_reconciliation_corrects_a_hand_edit_but_not_a_sale_in_transit() -> None:
    world = World(shopbox_figure=Decimal(5))
    observed = world.observe(5, T0)
    await world.flush_after(1)
    observations = FakeTable({stock_key("BRD-1", 1, None): observed})
    reconciler = Reconciler(
        world.pusher, observations, world.shopbox, world.pending, BRANCHES,
        sales_lookback=timedelta(hours=1), counters=world.counters, clock=world.clock,
    )  # fmt: skip
    world.shopbox.stock["1"][("100", None)] = Decimal(9)  # a hand edit in Shopbox
    corrected = await reconciler.once()
    assert [c.target for c in corrected] == [Decimal(5)]
    assert world.shopbox.stock["1"][("100", None)] == Decimal(5)
    # A Shopbox basket whose sales event has not reached us: its effect is in Shopbox only.
    world.shopbox.baskets = [shopbox_basket("900009", quantity=2)]
    world.shopbox.stock["1"][("100", None)] = Decimal(3)
    world.clock.now += 1  # a later pass: the correction above is not "written meanwhile"
    assert await reconciler.once() == []
    assert world.counters["reconcile_skipped_sale_in_transit"] == 1


def shopbox_basket(uid: str, quantity: int) -> Basket:
    line = {"product": "100", "sku_code": "BRD-1", "quantity": quantity, "selling_price": 3000}
    created = int(datetime.now(UTC).timestamp())
    return Basket.model_validate(
        {"uid": uid, "creation_time": created, "branch": "1", "basket_items": [line]}
    )

"""item-mapper stamps the bindings of an item it created with the time it read the Shopbox stock
it copied into it, and the stamp survives re-publishing: order-writer gives back a sale made
before it (tests/unit/test_order_writer_service.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from domain.items.new_item_stock import NewItemStock, ShopboxStockListings
from domain.items.to_rackbeat import Outcome
from schemas.envelope import utcnow
from schemas.items import Binding, BindingChanged, ProductSnapshot
from services.common.bindings import BindingPublisher
from tests.unit.fakes import FakeBroker, FakeRackbeatOrders, FakeShopboxStock

COFFEE = Binding(sku="KAF-1", shopbox_product_id="1", rackbeat_item_number="KAF-1")
SNAPSHOT = ProductSnapshot(system="shopbox", product_id="1", sku="KAF-1", name="Kaffe")
EARLIER = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def new_stock() -> tuple[NewItemStock, FakeRackbeatOrders]:
    shopbox = FakeShopboxStock(stock={"10": {("1", None): Decimal(7)}})
    rackbeat = FakeRackbeatOrders()
    return NewItemStock(ShopboxStockListings(shopbox), rackbeat, {"10": 1}), rackbeat


def outcome(action: str) -> Outcome:
    return Outcome(
        product_id="1",
        item_number="KAF-1",
        action=action,  # type: ignore[arg-type]
        bindings=[COFFEE],
        fresh=action == "created",
    )


async def test_a_created_items_bindings_carry_when_its_shopbox_stock_was_read() -> None:
    stock, rackbeat = new_stock()
    created = outcome("created")
    before = utcnow()
    await stock.copy_if_created(SNAPSHOT, created, EARLIER)
    assert rackbeat.stock[("KAF-1", 1, ())] == 7
    (binding,) = created.bindings
    assert binding.stock_copied_at is not None
    assert before <= binding.stock_copied_at <= utcnow()


async def test_an_updated_item_copies_nothing_and_is_not_stamped() -> None:
    stock, rackbeat = new_stock()
    updated = outcome("updated")
    await stock.copy_if_created(SNAPSHOT, updated, EARLIER)
    assert rackbeat.adjustments == []
    assert updated.bindings == [COFFEE]


async def test_a_republished_binding_keeps_its_copy_time_while_it_names_the_same_item() -> None:
    broker = FakeBroker()
    publisher = BindingPublisher(broker, "bindings", None)  # type: ignore[arg-type]
    stamped = COFFEE.model_copy(update={"stock_copied_at": EARLIER})
    assert await publisher.publish([stamped], source="test") == 1
    # The next pass derives the binding afresh, without the time: nothing changed.
    assert await publisher.publish([COFFEE], source="test") == 0
    moved = COFFEE.model_copy(update={"rackbeat_item_number": "KAF-2"})
    assert await publisher.publish([moved], source="test") == 1
    events = [BindingChanged.model_validate_json(s.value or b"") for s in broker.on("bindings")]
    assert [e.payload.stock_copied_at for e in events] == [EARLIER, None]

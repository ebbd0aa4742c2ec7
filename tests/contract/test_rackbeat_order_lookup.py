"""Contract: the order lookup behind the writer's exactly-once guard works whatever the real
`/orders` filters do (docs/api-assumptions.md, R15): the reference rides in the heading, the
candidates come from a `created_at_from` window, and a 422 "not filterable" only switches to the
next strategy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.clients.rackbeat import RackbeatClient, heading_with_reference
from services.clients.rackbeat_models import NewOrder, NewOrderLine
from tests.fixtures.rackbeat_sim import RackbeatSim

KAFFE = {"products": [{"number": "KAF-1", "name": "Kaffe", "sales_price": "100"}]}


async def place(client: RackbeatClient, basket: str) -> int:
    reference = f"shopbox-basket-{basket}"
    order = await client.create_order(
        NewOrder(
            customer_id=1,
            heading=heading_with_reference(f"Shopbox sale {basket}", reference),
            their_reference=reference,
            lines=[NewOrderLine(item_id="KAF-1", quantity=1)],
        ),
        book=True,
    )
    return order.number


@pytest.mark.parametrize("rackbeat_sim", ["evidence", "strict", "legacy"], indirect=True)
async def test_lookup_finds_exactly_the_order_under_every_profile(
    rackbeat_sim: RackbeatSim, rackbeat_client: RackbeatClient
) -> None:
    await rackbeat_sim.seed(KAFFE)
    numbers = {basket: await place(rackbeat_client, basket) for basket in ("12", "123", "1")}
    since = datetime.now(UTC) - timedelta(hours=1)
    for basket, number in numbers.items():
        found = await rackbeat_client.find_orders_by_reference(
            f"shopbox-basket-{basket}", created_after=since
        )
        assert [o.number for o in found] == [number]
    assert await rackbeat_client.find_orders_by_reference("shopbox-basket-9") == []
    # A window after the orders were made holds none of them.
    later = datetime.now(UTC) + timedelta(hours=1)
    assert (
        await rackbeat_client.find_orders_by_reference("shopbox-basket-1", created_after=later)
        == []
    )


@pytest.mark.rackbeat_switches(order_search="not_filterable", order_their_reference="dropped")
async def test_a_422_not_filterable_moves_to_the_next_strategy(
    rackbeat_sim: RackbeatSim, rackbeat_client: RackbeatClient
) -> None:
    await rackbeat_sim.seed(KAFFE)
    number = await place(rackbeat_client, "77")
    rackbeat_client.lookup_strategies = ["search", "scan"]
    found = await rackbeat_client.find_orders_by_reference("shopbox-basket-77")
    assert [o.number for o in found] == [number]
    assert rackbeat_client.lookup_strategies == ["scan"]
    assert found[0].their_reference is None  # found by the heading alone

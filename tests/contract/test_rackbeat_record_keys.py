"""Keys that do not follow the path: with every record and list page under `data` (the
`record_keys` switch's named guess), the client still reads each record under the answer's only
object and each list under its only array, over real HTTP; an answer with neither is a clear
error naming the call and the key."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.clients.http import ApiError
from services.clients.rackbeat import RackbeatClient
from services.clients.rackbeat_models import (
    Customer,
    NewInventoryAdjustment,
    NewOrder,
    NewOrderLine,
)
from tests.fixtures.rackbeat_sim import RackbeatSim

SEED = {"products": [{"number": "K-1", "name": "Kaffe", "group": 1, "sales_price": "80"}]}
VARIANTS = [
    pytest.param(v, marks=pytest.mark.rackbeat_switches(record_keys=v), id=v)
    for v in ("path", "data")
]


@pytest.mark.parametrize("variant", VARIANTS)
async def test_records_and_lists_are_read_under_their_key_or_the_only_one(
    variant: str, rackbeat_sim: RackbeatSim, rackbeat_client: RackbeatClient
) -> None:
    await rackbeat_sim.seed(SEED)
    async with rackbeat_sim.raw() as http:
        raw = (await http.get("products/K-1")).json()
    assert list(raw) == (["product"] if variant == "path" else ["data"])

    assert (await rackbeat_client.account()).id == 1
    assert (await rackbeat_client.get_product("K-1")).name == "Kaffe"
    assert [p.number async for p in rackbeat_client.iter_products()] == ["K-1"]
    assert {loc.number for loc in await rackbeat_client.list_locations()} == {1, 2}
    assert (await rackbeat_client.get_customer(1)).number == 1
    order = await rackbeat_client.create_order(
        NewOrder(
            customer_id=1,
            heading="[shopbox-basket-9]",
            lines=[NewOrderLine(item_id="K-1", quantity=Decimal(1), location_id=1)],
        ),
        book=True,
    )
    found = await rackbeat_client.find_orders_by_reference("shopbox-basket-9")
    assert [o.number for o in found] == [order.number]
    await rackbeat_client.create_inventory_adjustment(
        NewInventoryAdjustment(item_number="K-1", location_number=1, quantity=Decimal(7))
    )
    stock = {
        row.location.number: row.stock_quantity for row in await rackbeat_client.item_stock("K-1")
    }
    assert stock[1] == Decimal(7)


async def test_an_answer_without_the_key_or_a_single_record_names_the_call() -> None:
    client = RackbeatClient("http://127.0.0.1:9/api", "t")
    body = {"product": None, "meta": {"a": 1}, "links": {"b": 2}}
    with pytest.raises(ApiError) as raised:
        client._one(body, "customer", Customer, "GET /customers/1")
    assert "GET /customers/1" in str(raised.value) and "'customer'" in str(raised.value)
    await client.aclose()

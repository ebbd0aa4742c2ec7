"""Contract: Rackbeat products and items over real HTTP (simulator + typed client)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from infra.simulators.switches import PROFILES
from services.clients.http import NotFound, Unauthorized, ValidationFailed
from services.clients.rackbeat import RackbeatClient
from services.clients.rackbeat_models import NewProduct, ProductChanges
from tests.fixtures.rackbeat_sim import RackbeatSim


def products(count: int, prefix: str = "P") -> dict[str, object]:
    return {
        "products": [
            {"number": f"{prefix}{i:03d}", "name": f"Vare {i}", "group": 1, "sales_price": "10.00"}
            for i in range(count)
        ]
    }


async def test_lists_answer_206_with_pagination_fields(rackbeat_sim: RackbeatSim) -> None:
    await rackbeat_sim.seed(products(45))
    async with rackbeat_sim.raw() as http:
        page2 = await http.get("products", params={"limit": 10, "page": 2})
        page5 = await http.get("products", params={"limit": 10, "page": 5})
        default = await http.get("products")
    assert page2.status_code == 206
    body = page2.json()
    assert (body["total"], body["pages"], body["limit"], body["page"]) == (45, 5, 10, 2)
    assert [p["number"] for p in body["products"]] == [f"P{i:03d}" for i in range(10, 20)]
    assert len(page5.json()["products"]) == 5
    assert default.json()["limit"] == 20


async def test_client_iterates_every_page(
    rackbeat_sim: RackbeatSim, rackbeat_client: RackbeatClient
) -> None:
    await rackbeat_sim.seed(products(45))
    numbers = [p.number async for p in rackbeat_client.iter_products(page_size=10)]
    assert numbers == [f"P{i:03d}" for i in range(45)]
    assert (await rackbeat_sim.requests())["GET /api/products"] == 5


async def test_insert_during_pagination_does_not_repeat_records(
    rackbeat_sim: RackbeatSim, rackbeat_client: RackbeatClient
) -> None:
    await rackbeat_sim.seed(products(30))
    seen = []
    async for product in rackbeat_client.iter_products(page_size=10):
        seen.append(product.number)
        if len(seen) == 10:  # an item sorting first appears: every later record shifts by one
            await rackbeat_sim.seed(products(1, prefix="A"))
    assert sorted(seen) == sorted(set(seen))
    assert set(seen) >= {f"P{i:03d}" for i in range(30)}


async def test_missing_or_wrong_token_is_401_without_leaking_it(rackbeat_sim: RackbeatSim) -> None:
    wrong = "wrong-secret-token-value"
    async with rackbeat_sim.raw(token=wrong) as http:
        response = await http.get("self")
    assert response.status_code == 401
    assert response.json() == {"message": "Unauthenticated."}
    client = RackbeatClient(rackbeat_sim.api_url, wrong)
    try:
        with pytest.raises(Unauthorized) as caught:
            await client.account()
    finally:
        await client.aclose()
    assert wrong not in str(caught.value)
    assert wrong not in repr(client)


async def test_self_returns_the_account(rackbeat_client: RackbeatClient) -> None:
    assert (await rackbeat_client.account()).id == 1


async def test_unknown_product_is_404(
    rackbeat_sim: RackbeatSim, rackbeat_client: RackbeatClient
) -> None:
    with pytest.raises(NotFound):
        await rackbeat_client.get_product("NOPE")
    assert await rackbeat_client.find_product("NOPE") is None
    async with rackbeat_sim.raw() as http:
        response = await http.get("items/NOPE")
    assert response.status_code == 404
    assert "message" in response.json()


async def test_invalid_product_is_422_with_field_errors(
    rackbeat_sim: RackbeatSim, rackbeat_client: RackbeatClient
) -> None:
    await rackbeat_sim.seed(products(1))
    with pytest.raises(ValidationFailed) as caught:
        await rackbeat_client.create_product(
            NewProduct(number="P000", name="Dup", group=99, sales_price=1)
        )
    assert set(caught.value.field_errors) == {"number", "group"}
    assert "number" in str(caught.value)
    async with rackbeat_sim.raw() as http:
        response = await http.post("products", json={"number": "X" * 26, "group": 1})
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert set(errors) == {"number", "name"}
    assert "25" in errors["number"][0]


async def test_create_update_and_read_back(rackbeat_client: RackbeatClient) -> None:
    created = await rackbeat_client.create_product(
        NewProduct(number="KAF-1", name="Kaffe", group=1, sales_price="79.20", description="Mørk")
    )
    assert created.sales_price == Decimal("79.20")
    updated = await rackbeat_client.update_product(
        "KAF-1", ProductChanges(name="Kaffe mørk", sales_price="81.50")
    )
    assert (updated.name, str(updated.sales_price)) == ("Kaffe mørk", "81.5")
    item = await rackbeat_client.get_item("KAF-1")
    assert item.type == "product"
    assert item.group is not None
    assert item.group.name == "Varer m/lagertræk"


async def test_renumbering_moves_the_product(rackbeat_client: RackbeatClient) -> None:
    await rackbeat_client.create_product(
        NewProduct(number="OLD-1", name="A", group=1, sales_price=1)
    )
    await rackbeat_client.update_product("OLD-1", ProductChanges(number="NEW-1"))
    assert await rackbeat_client.find_product("OLD-1") is None
    assert (await rackbeat_client.get_product("NEW-1")).name == "A"


async def test_single_and_double_encoded_numbers(
    rackbeat_sim: RackbeatSim, rackbeat_client: RackbeatClient
) -> None:
    number = "ABC/123+DEF 9"
    await rackbeat_client.create_product(
        NewProduct(number=number, name="Odd", group=1, sales_price=5)
    )
    async with rackbeat_sim.raw() as http:
        single = await http.get("products/ABC%2F123%2BDEF%209")
        double = await http.get("products/ABC%252F123%252BDEF%25209")
        stock = await http.get("items/ABC%252F123%252BDEF%25209/locations")
    assert single.status_code == double.status_code == 200
    assert single.json()["product"]["number"] == double.json()["product"]["number"] == number
    assert stock.status_code == 206
    assert (await rackbeat_client.get_product(number)).number == number
    rows = await rackbeat_client.item_stock(number)
    assert [row.location.number for row in rows] == [1, 2]


@pytest.mark.parametrize("rackbeat_sim", PROFILES, indirect=True)
async def test_stock_per_location_is_read_in_every_row_shape(
    rackbeat_sim: RackbeatSim, rackbeat_client: RackbeatClient
) -> None:
    # evidence: flat rows under `locations`; strict: flat rows under `product_locations`;
    # legacy: nested `location{number}`.
    await rackbeat_client.create_product(NewProduct(number="S1", name="S", group=1, sales_price=5))
    await rackbeat_sim.stock("S1", 2, quantity=6)
    rows = {row.location.number: row for row in await rackbeat_client.item_stock("S1")}
    assert sorted(rows) == [1, 2]
    assert (rows[1].stock_quantity, rows[2].stock_quantity) == (Decimal(0), Decimal(6))
    async with rackbeat_sim.raw() as http:
        flat = (await http.get("products/S1/locations")).json()["product_locations"]
    assert [(row["number"], row["stock_quantity"]) for row in flat] == [(1, 0), (2, 6)]


async def test_cost_price_and_stock_are_not_writable_through_put(rackbeat_sim: RackbeatSim) -> None:
    await rackbeat_sim.seed({"products": [{"number": "C1", "name": "C", "cost_price": "12.00"}]})
    async with rackbeat_sim.raw() as http:
        response = await http.put("products/C1", json={"cost_price": 1, "stock_quantity": 99})
        after = (await http.get("products/C1")).json()["product"]
    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"cost_price", "stock_quantity"}
    assert (after["cost_price"], after["stock_quantity"]) == (12, 0)


async def test_updated_at_from_filters_lists(
    rackbeat_sim: RackbeatSim, rackbeat_client: RackbeatClient
) -> None:
    await rackbeat_sim.seed(products(4))
    long_ago = datetime.now(UTC) - timedelta(days=2)
    for number in ("P000", "P001"):
        rackbeat_sim.state.store.products[number].updated_at = long_ago
    since = datetime.now(UTC) - timedelta(hours=1)
    recent = [p.number async for p in rackbeat_client.iter_items(updated_since=since)]
    assert recent == ["P002", "P003"]


async def test_delete_refused_once_stock_is_registered(
    rackbeat_sim: RackbeatSim, rackbeat_client: RackbeatClient
) -> None:
    await rackbeat_sim.seed(
        {
            "products": [
                {"number": "S1", "name": "S", "stock": [{"location": 1, "quantity": 3}]},
                {"number": "S2", "name": "S"},
            ]
        }
    )
    with pytest.raises(ValidationFailed):
        await rackbeat_client.delete_product("S1")
    await rackbeat_client.delete_product("S2")
    assert await rackbeat_client.find_product("S2") is None


async def test_limit_above_1000_is_refused(rackbeat_sim: RackbeatSim) -> None:
    async with rackbeat_sim.raw() as http:
        response = await http.get("products", params={"limit": 1001})
    assert response.status_code == 422
    assert "limit" in response.json()["errors"]

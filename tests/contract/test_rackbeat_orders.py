"""Contract: Rackbeat sales orders, stock per location and variant, adjustments."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from infra.simulators.switches import PROFILES
from services.clients.http import ServerError, ValidationFailed
from services.clients.rackbeat import RackbeatClient
from services.clients.rackbeat_models import (
    NewInventoryAdjustment,
    NewOrder,
    NewOrderLine,
    VariationPick,
)
from tests.fixtures.rackbeat_sim import RackbeatSim

SIZES: dict[str, Any] = {
    "id": 900,
    "name": "Tøj",
    "types": [
        {
            "id": 901,
            "name": "Størrelse",
            "options": [{"id": 902, "name": "S"}, {"id": 903, "name": "M"}],
        }
    ],
}
SEED: dict[str, Any] = {
    "variations": [SIZES],
    "products": [
        {
            "number": "KAF-1",
            "name": "Kaffe",
            "sales_price": "100.00",
            "stock": [{"location": 1, "quantity": 10}, {"location": 2, "quantity": 4}],
        },
        {
            "number": "TSHIRT",
            "name": "T-shirt",
            "sales_price": "150.00",
            "variation_id": 900,
            "stock": [
                {"location": 1, "quantity": 5, "option_ids": [902]},
                {"location": 1, "quantity": 6, "option_ids": [903]},
            ],
        },
    ],
}


def order(*lines: NewOrderLine, heading: str | None = None) -> NewOrder:
    return NewOrder(customer_id=1, lines=list(lines), heading=heading)


def dec(*values: int) -> tuple[Decimal, ...]:
    return tuple(Decimal(v) for v in values)


async def stock_at(client: RackbeatClient, item: str, location: int) -> tuple[Decimal, ...]:
    rows = {row.location.number: row for row in await client.item_stock(item)}
    row = rows[location]
    return row.stock_quantity, row.in_order_quantity, row.available_quantity


async def test_booking_reserves_and_shipping_moves_stock(
    rackbeat_sim: RackbeatSim, rackbeat_client: RackbeatClient
) -> None:
    await rackbeat_sim.seed(SEED)
    draft = await rackbeat_client.create_order(
        order(NewOrderLine(item_id="KAF-1", quantity=3, location_id=2)), book=False
    )
    assert draft.is_booked is False
    assert await stock_at(rackbeat_client, "KAF-1", 2) == dec(4, 0, 4)

    booked = await rackbeat_client.book_order(draft.number)
    assert booked.is_booked is True
    assert await stock_at(rackbeat_client, "KAF-1", 2) == dec(4, 3, 1)
    assert await stock_at(rackbeat_client, "KAF-1", 1) == dec(10, 0, 10)
    product = await rackbeat_client.get_product("KAF-1")
    assert (product.stock_quantity, product.in_order_quantity, product.available_quantity) == dec(
        14,
        3,
        11,
    )

    with pytest.raises(ValidationFailed) as again:
        await rackbeat_client.book_order(draft.number)
    assert "order" in again.value.field_errors

    await rackbeat_client.ship_order(draft.number)
    assert await stock_at(rackbeat_client, "KAF-1", 2) == dec(1, 0, 1)
    assert (await rackbeat_client.get_order(draft.number)).is_shipped is True


async def test_post_orders_creates_booked_with_totals(
    rackbeat_sim: RackbeatSim, rackbeat_client: RackbeatClient
) -> None:
    await rackbeat_sim.seed(SEED)
    created = await rackbeat_client.create_order(
        order(
            NewOrderLine(
                item_id="KAF-1",
                quantity=2,
                line_price=Decimal("100.00"),
                discount_percentage=Decimal(10),
            ),
            heading="SB-1",
        ),
        book=True,
    )
    assert created.is_booked is True
    assert created.total_subtotal == Decimal("180")
    assert created.total_total == Decimal("225")  # 25 % Danish VAT on top
    assert created.lines[0].item_number == "KAF-1"
    assert created.lines[0].location is not None
    assert created.lines[0].location.number == 1  # no location given: the default location
    assert await stock_at(rackbeat_client, "KAF-1", 1) == dec(10, 2, 8)


async def test_invalid_order_lists_every_field_error(
    rackbeat_sim: RackbeatSim, rackbeat_client: RackbeatClient
) -> None:
    await rackbeat_sim.seed(SEED)
    bad = NewOrder(
        customer_id=999,
        lines=[
            NewOrderLine(item_id="NOPE", quantity=1),
            NewOrderLine(
                item_id="TSHIRT",
                quantity=1,
                variations=[VariationPick(variation_id=900, option_id=4242)],
            ),
            NewOrderLine(item_id="KAF-1", quantity=1, location_id=77),
        ],
    )
    with pytest.raises(ValidationFailed) as caught:
        await rackbeat_client.create_order(bad, book=True)
    errors = caught.value.field_errors
    assert errors["customer_id"] == ["The selected Customer is invalid."]
    assert errors["lines.0.item_id"] == ["Product needed"]
    assert "lines.1.variations.0.option_id" in errors
    assert "lines.2.location_id" in errors
    assert (await rackbeat_sim.control.get("state")).json()["counts"]["orders"] == 0


async def test_variant_lines_reserve_stock_of_that_variant(
    rackbeat_sim: RackbeatSim, rackbeat_client: RackbeatClient
) -> None:
    await rackbeat_sim.seed(SEED)
    with pytest.raises(ValidationFailed) as no_variant:
        await rackbeat_client.create_order(
            order(NewOrderLine(item_id="TSHIRT", quantity=1)), book=True
        )
    assert "lines.0.variations" in no_variant.value.field_errors

    medium = VariationPick(variation_id=900, option_id=903)
    created = await rackbeat_client.create_order(
        order(NewOrderLine(item_id="TSHIRT", quantity=2, variations=[medium])), book=True
    )
    assert created.lines[0].variations[0].variation_option["name"] == "M"  # swagger: {id, name}
    matrix = {
        row.option_ids: row for row in await rackbeat_client.variant_stock("TSHIRT", location=1)
    }
    assert (matrix[(902,)].stock_quantity, matrix[(902,)].in_order_quantity) == dec(5, 0)
    assert (matrix[(903,)].stock_quantity, matrix[(903,)].available_quantity) == dec(6, 4)


async def test_return_line_reserves_nothing_and_restocks_on_shipment(
    rackbeat_sim: RackbeatSim, rackbeat_client: RackbeatClient
) -> None:
    await rackbeat_sim.seed(SEED)
    credit = await rackbeat_client.create_order(
        order(NewOrderLine(item_id="KAF-1", quantity=-2)), book=True
    )
    assert await stock_at(rackbeat_client, "KAF-1", 1) == dec(10, 0, 10)
    await rackbeat_client.ship_order(credit.number)
    assert await stock_at(rackbeat_client, "KAF-1", 1) == dec(12, 0, 12)


async def test_find_orders_by_reference_is_exact(
    rackbeat_sim: RackbeatSim, rackbeat_client: RackbeatClient
) -> None:
    await rackbeat_sim.seed(SEED)
    for heading in ("SB-100", "SB-1000", "SB-2"):
        await rackbeat_client.create_order(
            order(NewOrderLine(item_id="KAF-1", quantity=1), heading=heading), book=False
        )
    found = await rackbeat_client.find_orders_by_reference("SB-100")
    assert [o.heading for o in found] == ["SB-100"]
    assert await rackbeat_client.find_orders_by_reference("SB-3") == []
    async with rackbeat_sim.raw() as http:
        exact = (await http.get("orders", params={"heading": "SB-100"})).json()
        drafts = (await http.get("orders", params={"is_booked": "false"})).json()
    assert exact["total"] == 1
    assert drafts["total"] == 3


async def test_cancel_releases_reservation_and_only_drafts_delete(
    rackbeat_sim: RackbeatSim, rackbeat_client: RackbeatClient
) -> None:
    await rackbeat_sim.seed(SEED)
    booked = await rackbeat_client.create_order(
        order(NewOrderLine(item_id="KAF-1", quantity=4)), book=True
    )
    async with rackbeat_sim.raw() as http:
        refused = await http.delete(f"orders/{booked.number}")
        cancelled = await http.post(f"orders/{booked.number}/cancel")
        draft = (
            await http.post(
                "orders/drafts",
                json={"customer_id": 1, "lines": [{"item_id": "KAF-1", "quantity": 1}]},
            )
        ).json()["order"]
        deleted = await http.delete(f"orders/{draft['number']}")
    assert refused.status_code == 422
    assert cancelled.json()["order"]["is_cancelled"] is True
    assert await stock_at(rackbeat_client, "KAF-1", 1) == dec(10, 0, 10)
    assert deleted.status_code == 204


@pytest.mark.parametrize("rackbeat_sim", PROFILES, indirect=True)
async def test_adjustments_set_levels_under_every_profile(
    rackbeat_sim: RackbeatSim, rackbeat_client: RackbeatClient
) -> None:
    # evidence: GYT keys, drafts booked by the client; strict: the old swagger's keys; legacy:
    # booked at once under `inventory_adjustment`. The client's one body and its booking suit all.
    await rackbeat_sim.seed(SEED)
    first = await rackbeat_client.create_inventory_adjustment(
        NewInventoryAdjustment(item_number="KAF-1", location_number=2, quantity=5, reason="Count")
    )
    assert first is not None
    assert await stock_at(rackbeat_client, "KAF-1", 2) == dec(5, 0, 5)
    await rackbeat_client.create_inventory_adjustment(
        NewInventoryAdjustment(item_number="KAF-1", location_number=2, quantity=-2)
    )
    assert await stock_at(rackbeat_client, "KAF-1", 2) == dec(-2, 0, -2)
    same = await rackbeat_client.create_inventory_adjustment(
        NewInventoryAdjustment(item_number="KAF-1", location_number=2, quantity=-2)
    )
    if rackbeat_sim.state.switches["adjustment_body"] != "legacy":
        assert same is None  # Rackbeat's 422 on "no change" is the level already being there
    assert await stock_at(rackbeat_client, "KAF-1", 2) == dec(-2, 0, -2)
    books = sum(
        n
        for call, n in (await rackbeat_sim.requests()).items()
        if call.startswith("POST /api/inventory-adjustments/") and call.endswith("/book")
    )
    assert books == (2 if rackbeat_sim.state.switches["adjustment_booking"] == "draft" else 0)


@pytest.mark.rackbeat_switches(adjustment_body="swagger_keys")
async def test_an_adjustment_body_missing_a_required_key_is_refused(
    rackbeat_sim: RackbeatSim,
) -> None:
    await rackbeat_sim.seed(SEED)
    async with rackbeat_sim.raw() as http:
        refused = await http.post(
            "inventory-adjustments",
            json={"item_id": "KAF-1", "location": 2, "quantity": 3, "adjustment_type": "quantity"},
        )
    assert refused.status_code == 422
    assert set(refused.json()["errors"]) >= {"item_number", "regulated_at", "reason", "item_type"}


async def test_cash_customer_is_seeded(rackbeat_client: RackbeatClient) -> None:
    customer = await rackbeat_client.get_customer(1)
    assert customer.company_name == "Kontantkunde"


async def test_writes_that_may_have_happened_are_not_retried_blindly(
    rackbeat_sim: RackbeatSim, rackbeat_client: RackbeatClient
) -> None:
    # A lost answer: the order is created, the client sees a 500. Retrying the POST would make a
    # second order, so the client raises instead and leaves it to the caller, which looks the
    # order up by its reference first (order-writer).
    await rackbeat_sim.seed(SEED)
    await rackbeat_sim.set_faults(rate_limit_per_minute=None, lost_response_rate=1.0)
    with pytest.raises(ServerError):
        await rackbeat_client.create_order(
            order(NewOrderLine(item_id="KAF-1", quantity=1), heading="lost"), book=True
        )
    await rackbeat_sim.set_faults(rate_limit_per_minute=None)
    counts = await rackbeat_sim.requests()
    assert counts["POST /api/orders"] == 1 and counts["lost_response"] == 1
    (created,) = await rackbeat_client.find_orders_by_reference("lost")
    assert created.is_booked
    # A stock level may be written again: a lost answer leaves at most an unbooked draft or the
    # level already set, and the caller's next attempt sets it (or is told it is there).
    await rackbeat_sim.set_faults(rate_limit_per_minute=None, lost_response_rate=1.0)
    level = NewInventoryAdjustment(item_number="KAF-1", location_number=2, quantity=Decimal(7))
    with pytest.raises(ServerError):
        await rackbeat_client.create_inventory_adjustment(level)
    await rackbeat_sim.set_faults(rate_limit_per_minute=None, lost_response_rate=0.0)
    assert (await rackbeat_sim.requests())["POST /api/inventory-adjustments"] > 1
    await rackbeat_client.create_inventory_adjustment(level)
    assert (await stock_at(rackbeat_client, "KAF-1", 2))[0] == 7

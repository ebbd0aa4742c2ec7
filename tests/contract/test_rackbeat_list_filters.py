"""Contract: the changed-since walk of `/products` and `/items` over real HTTP, whether or not
Rackbeat takes `updated_at_from` there (the `item_list_filters` switch), and what a stock move
does to `updated_at` (the `stock_bumps_updated_at` switch); docs/api-assumptions.md R2/R3."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from faststream.kafka import KafkaBroker

from domain.stock.refresh import RefreshQueue
from schemas.topics import Topics
from services.clients.rackbeat import RackbeatClient
from services.clients.rackbeat_models import NewOrder, NewOrderLine
from services.stock_publisher.ingest import Ingest
from tests.fixtures.rackbeat_sim import RackbeatSim

BOTH_FILTER_VARIANTS = [
    pytest.param(v, marks=pytest.mark.rackbeat_switches(item_list_filters=v), id=v)
    for v in ("updated_at_from", "refused")
]


def four_products() -> dict[str, object]:
    return {
        "products": [
            {"number": f"P{i:03d}", "name": f"Vare {i}", "sales_price": "10.00"} for i in range(4)
        ]
    }


async def seed_two_old(rackbeat_sim: RackbeatSim) -> None:
    """P000 and P001 last changed two days ago, P002 and P003 just now."""
    await rackbeat_sim.seed(four_products())
    long_ago = datetime.now(UTC) - timedelta(days=2)
    for number in ("P000", "P001"):
        rackbeat_sim.state.store.products[number].updated_at = long_ago


@pytest.mark.parametrize("variant", BOTH_FILTER_VARIANTS)
async def test_changed_since_walk_returns_only_changed_rows(
    variant: str, rackbeat_sim: RackbeatSim, rackbeat_client: RackbeatClient
) -> None:
    await seed_two_old(rackbeat_sim)
    since = datetime.now(UTC) - timedelta(hours=1)
    items = [p.number async for p in rackbeat_client.iter_items(updated_since=since)]
    products = [p.number async for p in rackbeat_client.iter_products(updated_since=since)]
    everything = [p.number async for p in rackbeat_client.iter_items()]
    assert items == products == ["P002", "P003"]
    assert everything == ["P000", "P001", "P002", "P003"]
    refused = {"items?updated_at_from", "products?updated_at_from"}
    assert rackbeat_client.refused_filters == (refused if variant == "refused" else set())


@pytest.mark.rackbeat_switches(item_list_filters="refused")
async def test_refused_filter_is_a_not_filterable_422(rackbeat_sim: RackbeatSim) -> None:
    async with rackbeat_sim.raw() as http:
        response = await http.get("items", params={"updated_at_from": "2026-01-01 00:00:00"})
        unfiltered = await http.get("items")
    assert response.status_code == 422
    assert response.json()["errors"] == {
        "updated_at_from": ["Property 'updated_at_from' is not filterable"]
    }
    assert unfiltered.status_code == 206


@pytest.mark.rackbeat_switches(item_list_filters="refused")
async def test_a_second_walk_does_not_retry_the_refused_filter(
    rackbeat_sim: RackbeatSim, rackbeat_client: RackbeatClient
) -> None:
    await seed_two_old(rackbeat_sim)
    since = datetime.now(UTC) - timedelta(hours=1)
    first = [p.number async for p in rackbeat_client.iter_items(updated_since=since)]
    after_first = (await rackbeat_sim.requests())["GET /api/items"]
    rackbeat_sim.state.store.products["P000"].updated_at = datetime.now(UTC)
    second = [p.number async for p in rackbeat_client.iter_items(updated_since=since)]
    after_second = (await rackbeat_sim.requests())["GET /api/items"]
    assert first == ["P002", "P003"]
    assert second == ["P000", "P002", "P003"]
    assert after_first == 2  # the refused filtered page, then the one unfiltered page
    assert after_second - after_first == 1  # straight to the unfiltered walk


BOTH_BUMP_VARIANTS = [
    pytest.param(v, marks=pytest.mark.rackbeat_switches(stock_bumps_updated_at=v), id=v)
    for v in ("yes", "no")
]


@pytest.mark.parametrize("bumps", BOTH_BUMP_VARIANTS)
async def test_stock_moves_bump_updated_at_only_when_switched_on(
    bumps: str, rackbeat_sim: RackbeatSim, rackbeat_client: RackbeatClient
) -> None:
    await seed_two_old(rackbeat_sim)
    await rackbeat_sim.stock("P000", 1, quantity=5)  # a purchase receipt
    await rackbeat_client.create_order(
        NewOrder(customer_id=1, lines=[NewOrderLine(item_id="P001", quantity=1)]), book=True
    )
    assert rackbeat_sim.state.store.level("P000", 1).stock == 5
    since = datetime.now(UTC) - timedelta(hours=1)
    changed = [p.number async for p in rackbeat_client.iter_items(updated_since=since)]
    moved = ["P000", "P001"] if bumps == "yes" else []
    assert changed == [*moved, "P002", "P003"]


@pytest.mark.parametrize(
    "bumps",
    [  # one marker per test: the refused filter too, so the poll's client-side filter is used
        pytest.param(
            v,
            marks=pytest.mark.rackbeat_switches(
                stock_bumps_updated_at=v, item_list_filters="refused"
            ),
            id=v,
        )
        for v in ("yes", "no")
    ],
)
async def test_stock_poll_sees_a_move_only_if_it_bumps_updated_at_the_sweep_always(
    bumps: str, rackbeat_sim: RackbeatSim, rackbeat_client: RackbeatClient
) -> None:
    """Why the full sweep's interval bounds how late an unsignalled stock move is seen when
    stock moves leave `updated_at` alone (the webhook, when delivered, names the item)."""
    await rackbeat_sim.seed(four_products())
    for product in rackbeat_sim.state.store.products.values():
        product.updated_at = datetime.now(UTC) - timedelta(days=2)
    queue = RefreshQueue(debounce_s=0)
    ingest = Ingest(KafkaBroker(), Topics(), rackbeat_client, queue, Counter())
    await rackbeat_sim.stock("P002", 1, quantity=3)
    polled = await ingest.poll_changed()
    assert [item for item, _ in queue.take_due(float("inf"))] == (
        ["P002"] if bumps == "yes" else []
    )
    assert polled == (1 if bumps == "yes" else 0)
    assert rackbeat_client.refused_filters == {"items?updated_at_from"}
    assert await ingest.sweep(force=False) == 4

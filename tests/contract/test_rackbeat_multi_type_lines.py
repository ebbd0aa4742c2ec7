"""A size x colour variant: its binding names one option per variation type, and the order line
order-writer builds from it carries them all, so Rackbeat books the sale on that combination."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from domain.sales.orders import OrderRules, build_order
from schemas.items import Binding
from schemas.sales import Sale, SaleLine
from services.clients.rackbeat import RackbeatClient
from tests.fixtures.rackbeat_sim import RackbeatSim

SIZE_COLOUR: dict[str, Any] = {
    "id": 700,
    "name": "Sko",
    "types": [
        {
            "id": 701,
            "name": "Størrelse",
            "options": [{"id": 702, "name": "40"}, {"id": 703, "name": "41"}],
        },
        {
            "id": 711,
            "name": "Farve",
            "options": [{"id": 712, "name": "Sort"}, {"id": 713, "name": "Brun"}],
        },
    ],
}
SEED: dict[str, Any] = {
    "variations": [SIZE_COLOUR],
    "products": [
        {
            "number": "SKO-1",
            "name": "Sko",
            "sales_price": "400.00",
            "variation_id": 700,
            "stock": [{"location": 1, "quantity": 5, "option_ids": [703, 713]}],
        }
    ],
}
BINDING = Binding(
    sku="SKO-1-41-BRUN",
    shopbox_product_id="300",
    shopbox_variant_id="31",
    rackbeat_item_number="SKO-1",
    rackbeat_variation_id="700",
    rackbeat_option_ids=["703", "713"],
)


def sale() -> Sale:
    line = SaleLine(
        product_id="300",
        variant_id="31",
        sku="SKO-1-41-BRUN",
        name="Sko 41 Brun",
        quantity=Decimal(2),
        unit_price=Decimal(500),
    )
    return Sale(
        basket_id="77",
        branch_id="1",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        lines=[line],
        total=Decimal(1000),
    )


def test_a_binding_of_one_option_still_reads_as_that_option() -> None:
    single = Binding(sku="T-M", rackbeat_option_id="903")
    assert single.option_ids() == ["903"] and BINDING.option_ids() == ["703", "713"]


async def test_a_size_x_colour_line_carries_both_options_and_books_that_combination(
    rackbeat_sim: RackbeatSim, rackbeat_client: RackbeatClient
) -> None:
    await rackbeat_sim.seed(SEED)
    order = build_order(sale(), "sale", lambda _: BINDING, OrderRules())
    assert [(v.variation_id, v.option_id) for v in order.lines[0].variations] == [
        (700, 703),
        (700, 713),
    ]
    created = await rackbeat_client.create_order(order, book=True)
    stored = rackbeat_sim.state.store.orders[created.number]
    assert stored.lines[0].option_ids == (703, 713)
    reserved = rackbeat_sim.state.store.totals("SKO-1", location=1, key=(703, 713))
    assert (reserved.stock, reserved.in_order) == (Decimal(5), Decimal(2))

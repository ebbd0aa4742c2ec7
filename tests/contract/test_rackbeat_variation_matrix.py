"""Per-variant stock from `GET /products/{n}/variation-matrix`, whose JSON shape no source shows:
the client reads every shape the `variation_matrix_shape` switch offers, one odd row is skipped
and the rest read, and an answer it cannot read is an error naming the call and what it
expected, never a crash or an empty matrix; stock-publisher sets such an item aside."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

import pytest
from faststream.kafka import KafkaBroker

from domain.stock.refresh import RefreshQueue
from schemas.topics import Topics
from services.clients.http import ApiError
from services.clients.rackbeat import RackbeatClient, _matrix_rows
from services.clients.rackbeat_models import VariantStock
from services.stock_publisher.ingest import Ingest
from tests.fixtures.rackbeat_sim import RackbeatSim

SIZE_COLOUR: dict[str, Any] = {
    "variations": [
        {
            "id": 900,
            "name": "Str x Farve",
            "types": [
                {"id": 901, "name": "Str", "options": [{"id": 902, "name": "S"}]},
                {
                    "id": 904,
                    "name": "Farve",
                    "options": [{"id": 905, "name": "Sort"}, {"id": 906, "name": "Hvid"}],
                },
            ],
        }
    ],
    "products": [
        {
            "number": "JAK-1",
            "name": "Jakke",
            "sales_price": "500",
            "variation_id": 900,
            "stock": [
                {"location": 1, "quantity": 3, "option_ids": [902, 905]},
                {"location": 1, "quantity": 7, "option_ids": [902, 906]},
                {"location": 2, "quantity": 1, "option_ids": [902, 905]},
            ],
        }
    ],
}


@pytest.mark.parametrize(
    "rackbeat_sim",
    ["evidence", "strict"],  # wrapped, rows
    indirect=True,
)
async def test_variant_stock_is_read_in_every_json_shape(
    rackbeat_sim: RackbeatSim, rackbeat_client: RackbeatClient
) -> None:
    await rackbeat_sim.seed(SIZE_COLOUR)
    shape = rackbeat_sim.state.switches["variation_matrix_shape"]
    async with rackbeat_sim.raw() as http:
        raw = (await http.get("products/JAK-1/variation-matrix")).json()
    assert isinstance(raw, list) is (shape == "rows")

    at_one = {r.option_ids: r for r in await rackbeat_client.variant_stock("JAK-1", location=1)}
    assert {ids: row.stock_quantity for ids, row in at_one.items()} == {
        (902, 905): Decimal(3),
        (902, 906): Decimal(7),
    }
    at_two = {r.option_ids: r for r in await rackbeat_client.variant_stock("JAK-1", location=2)}
    assert at_two[(902, 905)].available_quantity == Decimal(1)


@pytest.mark.rackbeat_switches(variation_matrix_shape="html")
async def test_an_html_matrix_is_an_error_naming_the_call(
    rackbeat_sim: RackbeatSim, rackbeat_client: RackbeatClient
) -> None:
    await rackbeat_sim.seed(SIZE_COLOUR)
    with pytest.raises(ApiError) as caught:
        await rackbeat_client.variant_stock("JAK-1", location=1)
    assert "variation-matrix" in str(caught.value)
    assert "not JSON (text/html" in caught.value.reason


async def test_an_odd_row_is_skipped_and_the_others_read(rackbeat_client: RackbeatClient) -> None:
    good = {"variations": [{"variation_id": 900, "option_id": 902}], "stock_quantity": 2}
    odd = {"stock_quantity": 1}  # no options: no variant to give the figure to
    rows = _matrix_rows({"variation_matrix": {"variants": [good, odd]}})
    assert rows is not None
    read = [
        row for raw in rows if (row := rackbeat_client._row(VariantStock, raw, "c")) is not None
    ]
    assert [(r.option_ids, r.stock_quantity) for r in read] == [((902,), Decimal(2))]
    assert rackbeat_client.skipped_rows == 1


@pytest.mark.parametrize(
    ("body", "found"),
    [
        ([{"options": []}], 1),
        ({"variation_matrix": {"variants": [{}, {}]}}, 2),
        ({"variants": [{}]}, 1),
        ({"matrix": {"rows": [{}, {}, {}]}}, 3),  # only-key fallbacks at both levels
        ({"variation_matrix": {"html": "<table>"}}, None),
        ("<table>", None),
    ],
)
def test_matrix_rows_are_found_under_any_plausible_key(body: Any, found: int | None) -> None:
    rows = _matrix_rows(body)
    assert (None if rows is None else len(rows)) == found


@pytest.mark.rackbeat_switches(variation_matrix_shape="html")
async def test_stock_publisher_puts_an_unreadable_matrix_aside_without_holding_up_other_reads(
    rackbeat_sim: RackbeatSim, rackbeat_client: RackbeatClient
) -> None:
    """A refusal no retry changes is tried again in a minute, not at once with a pause that
    would hold one of the few read slots (an outage still gets the quick retry)."""
    await rackbeat_sim.seed(SIZE_COLOUR)
    queue, counters = RefreshQueue(debounce_s=0), Counter[str]()
    ingest = Ingest(
        KafkaBroker(),
        Topics(),
        rackbeat_client,
        queue,
        counters,
        has_options=lambda item: item == "JAK-1",
        locations=[1],
    )
    assert await ingest.read_and_publish("JAK-1", force=True, source="webhook") == 0
    assert counters["read_failures"] == 1
    assert len(queue) == 0  # not asked again at once: set aside for a minute

"""Variations under every profile: types and options nested in the record (legacy) or served as
sub-resources (`/variations/{id}/types[/{t}/options]`, the old swagger's shape: evidence, strict).
"""

from __future__ import annotations

import pytest

from infra.simulators.switches import PROFILES
from schemas.items import ProductChanged
from services.clients.rackbeat import RackbeatClient
from services.item_mapper.pollers import RackbeatPoller, SnapshotPublisher
from tests.fixtures.rackbeat_sim import RackbeatSim

TOJ = {
    "variations": [
        {
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
    ],
    "products": [
        {"number": "T-1", "name": "T-shirt", "group": 1, "sales_price": "99", "variation_id": 900},
        {"number": "K-1", "name": "Kaffe", "group": 1, "sales_price": "80"},
    ],
}


@pytest.mark.parametrize("rackbeat_sim", PROFILES, indirect=True)
async def test_variations_are_read_and_created_in_either_shape(
    rackbeat_sim: RackbeatSim, rackbeat_client: RackbeatClient
) -> None:
    await rackbeat_sim.seed(TOJ)
    nested = rackbeat_sim.state.switches["variation_resources"] == "nested"
    async with rackbeat_sim.raw() as http:
        raw = (await http.get("variations/900")).json()["variation"]
    assert ("types" in raw) is nested  # else only the sub-resources name the types

    seeded = await rackbeat_client.get_variation(900)
    assert [(t.name, [o.name for o in t.options]) for t in seeded.types] == [
        ("Størrelse", ["S", "M"])
    ]

    created = await rackbeat_client.create_variation("Sko (Shopbox 7)", {"Str": ["40", "41"]})
    assert [(t.name, [o.name for o in t.options]) for t in created.types] == [("Str", ["40", "41"])]
    (vtype,) = created.types
    await rackbeat_client.add_variation_option(created.id, vtype.id, "42")
    listed = {v.id: v for v in await rackbeat_client.list_variations()}
    assert set(listed) == {900, created.id}
    assert [o.name for o in listed[created.id].types[0].options] == ["40", "41", "42"]


async def test_an_unreadable_variation_skips_its_product_and_the_pass_goes_on(
    rackbeat_sim: RackbeatSim, rackbeat_client: RackbeatClient
) -> None:
    await rackbeat_sim.seed(TOJ)
    del rackbeat_sim.state.store.variations[900]  # its product now names a variation that 404s
    published: list[ProductChanged] = []

    async def publish(event: ProductChanged) -> None:
        published.append(event)

    poller = RackbeatPoller(rackbeat_client, SnapshotPublisher(publish, "test", {}))
    await poller.poll_once()
    assert [e.payload.product_id for e in published] == ["K-1"]
    assert poller.cursor is None  # the skipped product is read again on the next pass

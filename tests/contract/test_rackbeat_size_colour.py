"""Shopbox master, size x colour, under every profile: item-mapper's writer (the real Rackbeat
client over HTTP) makes one Rackbeat product with a variation of one type per Shopbox variant
type, binds each variant to its option of every type, adds new values and new types to a live
product, and refuses a Rackbeat variation with a type Shopbox does not have, naming it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain.items.rules import PriceRules, duplicate_skus
from domain.items.to_rackbeat import Outcome, RackbeatCatalog, RackbeatWriter
from infra.simulators.switches import PROFILES
from schemas.items import ProductSnapshot, VariantSnapshot
from services.clients.rackbeat import RackbeatClient
from tests.fixtures.rackbeat_sim import RackbeatSim


def shoes(*values: dict[str, str]) -> ProductSnapshot:
    return ProductSnapshot(
        system="shopbox",
        product_id="7",
        sku="SKO-1",
        name="Sneakers",
        price=Decimal("500"),
        variants=[
            VariantSnapshot(
                variant_id=str(i),
                sku="SKO-1-" + "-".join(v.values()),
                attributes=v,
            )
            for i, v in enumerate(values)
        ],
    )


SIZE_COLOUR = [
    {"Størrelse": "40", "Farve": "Hvid"},
    {"Størrelse": "41", "Farve": "Hvid"},
    {"Størrelse": "40", "Farve": "Sort"},
]


async def apply(client: RackbeatClient, snapshot: ProductSnapshot) -> Outcome:
    writer = RackbeatWriter(client, RackbeatCatalog(client), PriceRules(Decimal(25)), group=1)
    return await writer.apply(snapshot, duplicate_skus([snapshot]))


def picked(outcome: Outcome, client_variation: dict[int, tuple[str, str]]) -> dict[str, set[str]]:
    """Each bound SKU's options as 'type: value'."""
    return {
        b.sku: {": ".join(client_variation[int(o)]) for o in b.option_ids()}
        for b in outcome.bindings
    }


async def options_of(client: RackbeatClient, variation_id: int) -> dict[int, tuple[str, str]]:
    variation = await client.get_variation(variation_id)
    return {o.id: (t.name, o.name) for t in variation.types for o in t.options}


@pytest.mark.parametrize("rackbeat_sim", PROFILES, indirect=True)
async def test_size_x_colour_maps_to_one_variation_with_a_type_per_variant_type(
    rackbeat_sim: RackbeatSim, rackbeat_client: RackbeatClient
) -> None:
    created = await apply(rackbeat_client, shoes(*SIZE_COLOUR))
    assert created.action == "created" and created.variation is not None
    variation = await rackbeat_client.get_variation(created.variation.id)
    assert {t.name: sorted(o.name for o in t.options) for t in variation.types} == {
        "Farve": ["Hvid", "Sort"],
        "Størrelse": ["40", "41"],
    }
    names = await options_of(rackbeat_client, variation.id)
    assert picked(created, names) == {
        "SKO-1-40-Hvid": {"Farve: Hvid", "Størrelse: 40"},
        "SKO-1-41-Hvid": {"Farve: Hvid", "Størrelse: 41"},
        "SKO-1-40-Sort": {"Farve: Sort", "Størrelse: 40"},
    }
    assert all(b.rackbeat_variation_id == str(variation.id) for b in created.bindings)
    product = rackbeat_sim.state.store.products["SKO-1"]
    assert product.variation_id == variation.id

    again = await apply(rackbeat_client, shoes(*SIZE_COLOUR))
    assert (again.action, again.writes) == ("unchanged", 0)
    assert again.bindings == created.bindings

    grown = await apply(rackbeat_client, shoes(*SIZE_COLOUR, {"Størrelse": "42", "Farve": "Grøn"}))
    assert grown.action == "updated" and grown.writes == 2  # one new option of each type
    names = await options_of(rackbeat_client, variation.id)
    assert picked(grown, names)["SKO-1-42-Grøn"] == {"Farve: Grøn", "Størrelse: 42"}
    assert len(rackbeat_sim.state.store.variations) == 1


@pytest.mark.parametrize("rackbeat_sim", PROFILES, indirect=True)
async def test_a_new_variant_type_on_a_live_product_is_added_to_its_variation(
    rackbeat_sim: RackbeatSim, rackbeat_client: RackbeatClient
) -> None:
    sizes = [{"Størrelse": "40"}, {"Størrelse": "41"}]
    first = await apply(rackbeat_client, shoes(*sizes))
    assert first.variation is not None and len(first.variation.types) == 1

    both = await apply(rackbeat_client, shoes(*({**v, "Farve": "Hvid"} for v in sizes)))
    assert both.action == "updated" and both.variation is not None
    assert both.variation.id == first.variation.id
    names = await options_of(rackbeat_client, first.variation.id)
    assert picked(both, names)["SKO-1-41-Hvid"] == {"Farve: Hvid", "Størrelse: 41"}


@pytest.mark.parametrize("rackbeat_sim", PROFILES, indirect=True)
async def test_a_rackbeat_type_with_no_shopbox_variant_type_skips_and_names_it(
    rackbeat_sim: RackbeatSim, rackbeat_client: RackbeatClient
) -> None:
    first = await apply(rackbeat_client, shoes(*SIZE_COLOUR))
    assert first.variation is not None
    fewer = await apply(rackbeat_client, shoes({"Størrelse": "40"}, {"Størrelse": "41"}))
    assert fewer.action == "skipped" and fewer.reason
    assert "has the type Farve, which no Shopbox variant type matches" in fewer.reason
    assert "remove that type from the variation in Rackbeat" in fewer.reason
    assert all(b.problem for b in fewer.bindings)

"""`updated_at` on Shopbox products and baskets, whose read type is unknown (docs/api-assumptions.md
S1, S10): the client reads unix seconds, seconds with a fraction or an ISO 8601 time."""

from __future__ import annotations

import pytest

from services.clients.shopbox import ShopboxClient
from tests.fixtures.shopbox_sim import ShopboxSim

pytestmark = pytest.mark.simulators

PROFILES = ("evidence", "strict", "legacy")
FORMATS = [pytest.param(form, marks=pytest.mark.shopbox_switches(updated_at_format=form), id=form)
           for form in ("unix", "float", "iso")]  # fmt: skip


async def read_times(sim: ShopboxSim, client: ShopboxClient) -> None:
    """Every product and a new basket read back with the simulator's own unix seconds."""
    stored = {str(p.uid): p.updated_at for p in sim.state.shop.products.values()}
    listed = {p.uid: p.updated_at async for p in client.iter_products(per_page=100)}
    assert listed == stored
    one = next(iter(stored))
    assert (await client.get_product(one)).updated_at == stored[one]
    sold = await sim.sale(1, [{"sku": "BRD-0002", "quantity": 1}])
    basket = sim.state.shop.baskets[int(sold["uid"])]
    assert (await client.get_basket(str(basket.uid))).updated_at == basket.updated_at
    assert [b.updated_at async for b in client.iter_baskets()] == [basket.updated_at]


@pytest.mark.parametrize("shopbox_sim", PROFILES, indirect=True)
async def test_updated_at_is_read_under_every_profile(
    shopbox_sim: ShopboxSim, shopbox_client: ShopboxClient
) -> None:
    await read_times(shopbox_sim, shopbox_client)


@pytest.mark.parametrize("form", FORMATS)
async def test_updated_at_is_read_in_every_form(
    form: str, shopbox_sim: ShopboxSim, shopbox_client: ShopboxClient
) -> None:
    raw = await shopbox_sim.control.get(
        f"/api/v3/products/{next(iter(shopbox_sim.state.shop.products))}",
        params={"api-token": shopbox_sim.token},
    )
    assert isinstance(raw.json()["updated_at"], {"unix": int, "float": float, "iso": str}[form])
    await read_times(shopbox_sim, shopbox_client)

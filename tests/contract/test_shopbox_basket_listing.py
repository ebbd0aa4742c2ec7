"""The basket list under every plausible variant of what is unconfirmed about it: its order
(newest or oldest first), whether `since` filters, and the key and format of the creation time.
Whatever the variant, the client yields each basket created at or after `since` exactly once,
and reads no more pages than it needs when the order is known."""

from __future__ import annotations

import itertools
import time

import pytest
from prometheus_client import REGISTRY

from services.clients.shopbox import ShopboxClient
from tests.fixtures.shopbox_sim import ShopboxSim

pytestmark = pytest.mark.simulators

VARIANTS = list(
    itertools.product(
        ("newest_first", "oldest_first"),
        ("honoured", "ignored"),
        ("creation_time", "created_at_iso", "crdate"),
    )
)
OLD, NEW = 12, 5  # baskets before and after `since`: 4 pages of 3 are old
PER_PAGE = 3


def basket_list_calls() -> float:
    labels = {"api": "Shopbox", "method": "GET", "endpoint": "/baskets", "status_class": "2xx"}
    return REGISTRY.get_sample_value("sync_upstream_requests_total", labels) or 0.0


async def ring_up(sim: ShopboxSim, creation_time: int) -> str:
    basket = await sim.sale(1, [{"sku": "BRD-0002", "quantity": 1}], creation_time=creation_time)
    return str(basket["uid"])


@pytest.mark.parametrize(("order", "since_filter", "time_key"), VARIANTS)
async def test_every_basket_since_is_listed_once_whatever_the_variant(
    shopbox_sim: ShopboxSim,
    shopbox_client: ShopboxClient,
    order: str,
    since_filter: str,
    time_key: str,
) -> None:
    shopbox_sim.state.switches |= {
        "basket_list_order": order,
        "basket_since": since_filter,
        "basket_time_key": time_key,
    }
    since = int(time.time()) - 1000
    for offset in range(OLD):
        await ring_up(shopbox_sim, since - 500 + offset)
    expected = {await ring_up(shopbox_sim, since + offset) for offset in range(NEW)}
    before = basket_list_calls()

    listed = [b.uid async for b in shopbox_client.iter_baskets(since=since, per_page=PER_PAGE)]

    assert sorted(listed) == sorted(expected)  # each once, none older
    pages_read = basket_list_calls() - before
    total_pages = -(-(OLD + NEW) // PER_PAGE)
    if since_filter == "ignored":
        # Newest first: the 2 new pages; oldest first: the last page, back to the first old row.
        assert pages_read <= 3 if order == "newest_first" else pages_read <= 1 + 3
        assert pages_read < total_pages


async def test_an_iso_creation_time_reads_as_the_same_moment(
    shopbox_sim: ShopboxSim, shopbox_client: ShopboxClient
) -> None:
    moment = int(time.time()) - 60
    uid = await ring_up(shopbox_sim, moment)
    shopbox_sim.state.switches |= {"basket_time_key": "created_at_iso"}
    assert (await shopbox_client.get_basket(uid)).creation_time == moment


async def test_find_by_sku_finds_a_product_beyond_the_first_page_when_the_filter_is_ignored(
    shopbox_sim: ShopboxSim, shopbox_client: ShopboxClient
) -> None:
    shopbox_sim.state.switches |= {"product_filters": "ignored"}
    last = max(shopbox_sim.state.shop.products.values(), key=lambda p: int(p.uid))
    found = await shopbox_client.find_by_sku(last.sku_code)
    assert [p.uid for p in found] == [str(last.uid)]

"""`LOG_API_SAMPLES`: the first answer of each endpoint is logged once, over real HTTP to both
simulators, with the shape kept (keys, ids, numbers, times) and every personal or secret text
replaced by its type."""

from __future__ import annotations

import json
from collections.abc import MutableMapping
from typing import Any

import pytest
from structlog.testing import capture_logs

from services.clients.factory import rackbeat_client, shopbox_client
from services.clients.samples import scrub
from services.common.settings import RackbeatSettings, ShopboxSettings
from tests.fixtures.rackbeat_sim import RackbeatSim
from tests.fixtures.shopbox_sim import ShopboxSim


def samples(logs: list[MutableMapping[str, Any]]) -> dict[str, Any]:
    found = [e for e in logs if e["event"] == "api answer sample"]
    endpoints = [e["endpoint"] for e in found]
    assert len(endpoints) == len(set(endpoints)), endpoints  # once per endpoint
    return {e["endpoint"]: json.loads(e["sample"]) for e in found}


async def test_each_endpoints_first_answer_is_logged_once_without_personal_data(
    shopbox_sim: ShopboxSim, rackbeat_sim: RackbeatSim, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOG_API_SAMPLES", "true")
    await shopbox_sim.sale(1, [{"sku": "BRD-0002"}], external_id="kunde@example.com")
    shopbox = shopbox_client(
        ShopboxSettings(base_url=shopbox_sim.api_url, api_token=shopbox_sim.token)
    )
    rackbeat = rackbeat_client(
        RackbeatSettings(base_url=rackbeat_sim.api_url, api_token=rackbeat_sim.token)
    )
    with capture_logs() as logs:
        async with shopbox, rackbeat:
            for _ in range(2):
                [b async for b in shopbox.iter_baskets()]
                await shopbox.branches()
                await rackbeat.get_customer(1)
    found = samples(logs)
    assert set(found) >= {"GET /baskets", "GET /branches", "GET /customers/{id}"}

    basket = found["GET /baskets"]["data"][0]
    assert isinstance(basket["creation_time"], int) and basket["uid"]  # the shape stays
    assert basket["external_id"] == "<str>"  # personal: only its type
    customer = found["GET /customers/{id}"]["customer"]
    assert customer["number"] == 1 and customer["company_name"] == "<str>"
    text = json.dumps(found)
    line_name = shopbox_sim.state.shop.products_by_sku("BRD-0002")[0][0].name
    for private in ("Kontantkunde", "kunde@example.com", "København", line_name):
        assert private not in text
    assert shopbox_sim.token not in text and rackbeat_sim.token not in text


async def test_samples_are_off_by_default(shopbox_sim: ShopboxSim) -> None:
    shopbox = shopbox_client(
        ShopboxSettings(base_url=shopbox_sim.api_url, api_token=shopbox_sim.token)
    )
    with capture_logs() as logs:
        async with shopbox:
            await shopbox.branches()
    assert not samples(logs)


def test_scrub_keeps_shape_and_cuts_lists() -> None:
    body = {
        "orders": [{"number": 1, "heading": "Anna Jensen", "token": "abc"}] * 5,
        "pages": 3,
        "links": {"next": "https://x/api?api-token=s3cret&page=2"},
    }
    assert scrub(body) == {
        "orders": [
            {"number": 1, "heading": "<str>", "token": "<secret>"},
            {"number": 1, "heading": "<str>", "token": "<secret>"},
            "... 3 more",
        ],
        "pages": 3,
        "links": {"next": "<str>"},
    }

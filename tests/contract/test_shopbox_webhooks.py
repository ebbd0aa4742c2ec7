"""The simulator's optional push webhook, delivered to a real receiver on a free port."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from infra.simulators.common import serve_in_loop
from tests.fixtures.shopbox_sim import ShopboxSim, demo_shop

pytestmark = pytest.mark.simulators

SECRET = "hook-secret-4711"


@dataclass
class Receiver:
    url: str = ""
    fail_first: int = 0
    calls: list[tuple[dict[str, str], Any]] = field(default_factory=list)
    refused: int = 0


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    got = Receiver()

    async def hook(request: Request) -> Response:
        if got.refused < got.fail_first:
            got.refused += 1
            return JSONResponse({"error": "not yet"}, 503)
        got.calls.append((dict(request.query_params), await request.json()))
        return JSONResponse({"ok": True})

    app = Starlette(routes=[Route("/shopbox-hook", hook, methods=["POST"])])
    async with serve_in_loop(app) as base_url:
        got.url = f"{base_url}/shopbox-hook"
        yield got


async def test_sale_and_cancel_are_pushed_with_the_secret(
    shopbox_sim: ShopboxSim, receiver: Receiver
) -> None:
    await shopbox_sim.set_webhook(receiver.url, secret=SECRET)
    variant = next(p for p in demo_shop()["products"] if p["product_variances"])
    variance = variant["product_variances"][0]
    basket = await shopbox_sim.sale(
        "Aarhus", [{"sku": "BRD-0002", "quantity": 2}, {"sku": variance["sku_code"]}]
    )
    await shopbox_sim.cancel(basket["uid"])
    await shopbox_sim.webhooks_idle()
    assert [(q["shopbox_hook_id"], q["action"]) for q, _ in receiver.calls] == [
        (SECRET, "basket.created"),
        (SECRET, "basket.canceled"),
    ]
    created = receiver.calls[0][1]
    assert created["event"] == "basket.created"
    assert (created["basket_uid"], created["branch"]) == (basket["uid"], 2)
    assert created["items"] == [
        {"product_id": 100002, "variance_id": None, "quantity": 2.0},
        {"product_id": variant["uid"], "variance_id": variance["uid"], "quantity": 1.0},
    ]
    assert receiver.calls[1][1]["canceled"] is True


async def test_a_batch_of_sales_pushes_each_basket(
    shopbox_sim: ShopboxSim, receiver: Receiver
) -> None:
    await shopbox_sim.set_webhook(receiver.url, secret=SECRET)
    sales = [{"branch": "Aarhus", "lines": [{"sku": "BRD-0002", "quantity": n}]} for n in (1, 2, 3)]
    answer = await shopbox_sim.control.post("/_control/sales", json={"sales": sales})
    await shopbox_sim.webhooks_idle()
    pushed = sorted(body["basket_uid"] for _, body in receiver.calls)
    assert pushed == sorted(b["uid"] for b in answer.json()["baskets"])
    assert {q["action"] for q, _ in receiver.calls} == {"basket.created"}


async def test_pushes_for_a_slow_receiver_wait_their_turn_in_the_dispatcher(
    shopbox_sim: ShopboxSim,
) -> None:
    open_now, peak, seen = 0, 0, []

    async def slow_hook(request: Request) -> Response:
        nonlocal open_now, peak
        open_now += 1
        peak = max(peak, open_now)
        await asyncio.sleep(0.1)
        seen.append((await request.json())["basket_uid"])
        open_now -= 1
        return JSONResponse({"ok": True})

    assert shopbox_sim.state.dispatcher is not None
    shopbox_sim.state.dispatcher.max_in_flight = 8
    app = Starlette(routes=[Route("/slow", slow_hook, methods=["POST"])])
    async with serve_in_loop(app) as base_url:
        await shopbox_sim.set_webhook(f"{base_url}/slow", secret=SECRET)
        sales = [{"branch": "Aarhus", "lines": [{"sku": "BRD-0002"}]} for _ in range(40)]
        answer = await shopbox_sim.control.post("/_control/sales", json={"sales": sales})
        await shopbox_sim.webhooks_idle(timeout=20)
    assert peak == 8
    assert sorted(seen) == sorted(b["uid"] for b in answer.json()["baskets"])
    assert (await shopbox_sim.summary())["webhooks"]["failed_attempts"] == 0


async def test_no_push_when_switched_off(shopbox_sim: ShopboxSim, receiver: Receiver) -> None:
    await shopbox_sim.set_webhook(receiver.url)
    await shopbox_sim.set_webhook(None)
    await shopbox_sim.sale("København", [{"sku": "BRD-0002"}])
    await shopbox_sim.webhooks_idle()
    assert receiver.calls == []


async def test_duplicate_fault_delivers_twice(shopbox_sim: ShopboxSim, receiver: Receiver) -> None:
    await shopbox_sim.set_webhook(receiver.url)
    await shopbox_sim.set_faults(webhook_duplicate_rate=1.0)
    await shopbox_sim.sale("København", [{"sku": "BRD-0002"}])
    await shopbox_sim.webhooks_idle()
    assert len(receiver.calls) == 2
    assert receiver.calls[0] == receiver.calls[1]


async def test_drop_fault_loses_the_push_but_the_basket_is_still_listed(
    shopbox_sim: ShopboxSim, receiver: Receiver
) -> None:
    await shopbox_sim.set_webhook(receiver.url)
    await shopbox_sim.set_faults(webhook_drop_rate=1.0)
    basket = await shopbox_sim.sale("København", [{"sku": "BRD-0002"}])
    stats = await shopbox_sim.webhooks_idle()
    assert receiver.calls == []
    assert stats["dropped"] == 1
    listed = await shopbox_sim.control.get(
        "/api/v3/baskets", params={"api-token": shopbox_sim.token}
    )
    assert [b["uid"] for b in listed.json()["data"]] == [basket["uid"]]


async def test_failed_deliveries_are_retried(shopbox_sim: ShopboxSim, receiver: Receiver) -> None:
    receiver.fail_first = 2
    await shopbox_sim.set_webhook(receiver.url)
    await shopbox_sim.sale("København", [{"sku": "BRD-0002"}])
    stats = await shopbox_sim.webhooks_idle()
    assert len(receiver.calls) == 1
    assert (stats["delivered"], stats["failed_attempts"]) == (1, 2)


@pytest.mark.parametrize("shopbox_sim", ["evidence", "strict", "legacy"], indirect=True)
async def test_the_push_is_a_basket_event_or_the_units_sold_as_the_switch_says(
    shopbox_sim: ShopboxSim, receiver: Receiver
) -> None:
    await shopbox_sim.set_webhook(receiver.url, secret=SECRET)
    variant = next(p for p in demo_shop()["products"] if p["product_variances"])
    variance = variant["product_variances"][0]
    basket = await shopbox_sim.sale(
        1, [{"sku": "BRD-0002", "quantity": 2}, {"sku": variance["sku_code"]}]
    )
    await shopbox_sim.cancel(basket["uid"])
    await shopbox_sim.webhooks_idle()
    actions = [query["action"] for query, _ in receiver.calls]
    if shopbox_sim.state.switches["push_body"] == "basket_event":
        assert actions == ["basket.created", "basket.canceled"]
        assert [body["basket_uid"] for _, body in receiver.calls] == [basket["uid"]] * 2
        return
    assert actions == ["updateInventory", "updateInventory"]
    sold = [
        {"product_id": 100002, "quantity": 2.0},
        {"product_id": variant["uid"], "quantity": 1.0, "variance_id": variance["uid"]},
    ]
    given_back = [{**row, "quantity": -row["quantity"]} for row in sold]
    assert [body for _, body in receiver.calls] == [sold, given_back]

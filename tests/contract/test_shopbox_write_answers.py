"""Shopbox write answers whose shape is unknown (docs/api-assumptions.md S9): the client and
stock-publisher treat any 2xx as success and go by what they sent, under every profile."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest

from domain.stock.coalesce import PushBuffer
from domain.stock.pending import PendingSales
from schemas.envelope import deterministic_id
from schemas.items import Binding
from schemas.stock import StockLevel, StockObserved, stock_key
from schemas.topics import Topics
from services.clients.shopbox import ShopboxClient
from services.common.settings import KafkaSettings
from services.stock_publisher.push import Pusher
from tests.fixtures.shopbox_sim import ShopboxSim, demo_shop
from tests.unit.fakes import FakeBindings, FakeBroker

pytestmark = pytest.mark.simulators

PROFILES = ("evidence", "strict", "legacy")
AARHUS = 2
TOPICS = Topics("t.")
ANSWERS = {"full": (200, "quantity"), "minimal": (200, "{}"), "empty": (204, "")}


@pytest.mark.parametrize("shopbox_sim", PROFILES, indirect=True)
async def test_the_inventory_write_answers_as_the_switch_says_and_the_client_accepts_it(
    shopbox_sim: ShopboxSim, shopbox_client: ShopboxClient
) -> None:
    product = next(p for p in demo_shop()["products"] if not p["product_variances"])
    status, body_has = ANSWERS[shopbox_sim.state.switches["inventory_write_answer"]]
    body = {"branch": AARHUS, "product": product["uid"], "quantity": 4.0, "note": "raw"}
    async with httpx.AsyncClient() as http:
        raw = await http.post(
            f"{shopbox_sim.api_url}/product-inventories",
            params={"api-token": shopbox_sim.token},
            json=body,
        )
    assert raw.status_code == status and body_has in raw.text
    await shopbox_client.set_stock(str(AARHUS), str(product["uid"]), 17)
    assert shopbox_sim.stock(AARHUS, product["uid"]) == 17


@pytest.mark.parametrize("shopbox_sim", PROFILES, indirect=True)
async def test_a_push_records_the_level_it_sent_whatever_the_answer(
    shopbox_sim: ShopboxSim, shopbox_client: ShopboxClient
) -> None:
    product = next(p for p in demo_shop()["products"] if not p["product_variances"])
    binding = Binding(
        sku=product["sku_code"],
        shopbox_product_id=str(product["uid"]),
        rackbeat_item_number=product["sku_code"],
    )
    broker = FakeBroker()
    pusher = Pusher(
        KafkaSettings(),
        broker,
        TOPICS,
        shopbox_client,
        FakeBindings([binding]),
        PendingSales({str(AARHUS): 1}, lambda line: line.sku),
        {str(AARHUS): 1},
        mode="available",
        safety_buffer={},
        buffer=PushBuffer(quiet_s=0, max_delay_s=0),
        counters=Counter(),
        unmapped={"skus": set(), "locations": set()},
    )
    at = datetime.now(UTC)
    level = StockLevel(
        item_number=binding.sku, location_number=1, stock_quantity=Decimal(23),
        in_order_quantity=Decimal(0), available_quantity=Decimal(23),
    )  # fmt: skip
    observed = StockObserved(
        event_id=deterministic_id("obs", binding.sku, at.isoformat()), occurred_at=at,
        observed_at=at, source="test", payload=level,
    )  # fmt: skip
    pusher.buffer.offer(stock_key(binding.sku, 1, None), observed, 0, 0, 0.0)
    await pusher.flush_due()
    assert shopbox_sim.stock(AARHUS, product["uid"]) == 23
    pushed = broker.events_on(TOPICS.stock_pushed)
    assert [(e.payload.product_id, e.payload.quantity) for e in pushed] == [
        (str(product["uid"]), Decimal(23))
    ]

"""The simulator's payloads carry every field name reference/apis.md documents.

`documented_shapes/rackbeat.json` is hand-written from the docs, so a renamed or dropped field
in the simulator fails here instead of surfacing against the real API.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.rackbeat_sim import RackbeatSim, WebhookReceiver

DOCUMENTED: dict[str, Any] = json.loads(
    (Path(__file__).parent / "documented_shapes" / "rackbeat.json").read_text(encoding="utf-8")
)
SEED = {
    "variations": [
        {
            "id": 900,
            "name": "Tøj",
            "types": [{"id": 901, "name": "Størrelse", "options": [{"id": 902, "name": "S"}]}],
        }
    ],
    "products": [
        {
            "number": "KAF-1",
            "name": "Kaffe",
            "sales_price": "100",
            "variation_id": 900,
            "stock": [{"location": 1, "quantity": 10, "option_ids": [902]}],
        }
    ],
}


def missing_fields(payload: Any, paths: list[str]) -> list[str]:
    return [path for path in paths if not has_path(payload, path)]


def has_path(payload: Any, path: str) -> bool:
    head, _, rest = path.partition(".")
    if head.endswith("[]"):
        items = payload.get(head[:-2]) if isinstance(payload, dict) else None
        return (
            isinstance(items, list) and bool(items) and all(has_path(item, rest) for item in items)
        )
    if not isinstance(payload, dict) or head not in payload:
        return False
    return has_path(payload[head], rest) if rest else True


def fields(name: str) -> list[str]:
    documented: list[str] = DOCUMENTED[name]["fields"]
    return documented


async def test_self_and_list_envelope(rackbeat_sim: RackbeatSim) -> None:
    async with rackbeat_sim.raw() as http:
        me = await http.get("self")
        listing = await http.get("products")
    assert missing_fields(me.json(), fields("self")) == []
    assert listing.status_code == DOCUMENTED["list_envelope"]["status"]
    assert missing_fields(listing.json(), fields("list_envelope")) == []
    assert "products" in listing.json()


@pytest.mark.parametrize(
    ("name", "path"),
    [("product", "products/KAF-1"), ("customer", "customers/1"), ("location", "locations/1")],
)
async def test_single_records(rackbeat_sim: RackbeatSim, name: str, path: str) -> None:
    await rackbeat_sim.seed(SEED)
    async with rackbeat_sim.raw() as http:
        body = (await http.get(path)).json()
    key = DOCUMENTED[name].get("envelope_key", name)
    assert list(body) == [key]
    assert missing_fields(body[key], fields(name)) == []


async def test_order_and_validation_error(rackbeat_sim: RackbeatSim) -> None:
    await rackbeat_sim.seed(SEED)
    line = {
        "item_id": "KAF-1",
        "quantity": 1,
        "variations": [{"variation_id": 900, "option_id": 902}],
    }
    async with rackbeat_sim.raw() as http:
        created = await http.post(
            "orders", json={"customer_id": 1, "heading": "H", "lines": [line]}
        )
        invalid = await http.post(
            "orders", json={"customer_id": 77, "lines": [{"item_id": "X", "quantity": 1}]}
        )
    assert created.status_code == 201
    order = created.json()["order"]
    assert missing_fields(order, fields("order")) == []
    assert missing_fields(order["lines"][0]["variations"][0], fields("order_line_variation")) == []
    spec = DOCUMENTED["validation_error"]
    assert invalid.status_code == spec["status"]
    assert missing_fields(invalid.json(), spec["fields"]) == []
    assert set(spec["example_paths"]) <= set(invalid.json()["errors"])
    assert invalid.json()["errors"]["lines.0.item_id"] == [spec["item_message"]]


# Legacy pinned: this checks the body Rackbeat's docs show; real deliveries carry only
# {key_name, key} (the evidence profile, tests/contract/test_rackbeat_webhooks.py).
@pytest.mark.rackbeat_switches(webhook_body="with_event")
async def test_webhook_and_its_deliveries(
    rackbeat_sim: RackbeatSim, webhook_receiver: WebhookReceiver
) -> None:
    await rackbeat_sim.seed(SEED)
    async with rackbeat_sim.raw() as http:
        created = await http.post(
            "webhooks", json={"event": "product.updated", "url": webhook_receiver.url}
        )
        assert created.status_code == 201
        assert missing_fields(created.json()["webhook"], fields("webhook")) == []
        await http.put("products/KAF-1", json={"name": "Kaffe mørk"})
    [delivery] = await webhook_receiver.wait_for(1)
    assert missing_fields(delivery.body, fields("webhook_delivery_body")) == []
    assert missing_fields(delivery.body, fields("webhook_delivery_body_updated")) == []
    headers = {name.lower() for name in delivery.headers}
    spec = DOCUMENTED["webhook_delivery_headers"]
    assert [h for h in spec["fields"] if h.lower() not in headers] == []
    assert delivery.headers["user-agent"] == spec["user_agent"]

"""Contract: Rackbeat webhook subscriptions and deliveries to a real receiver over HTTP."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.clients.http import ValidationFailed
from services.clients.rackbeat import RackbeatClient
from services.clients.rackbeat_models import (
    NewInventoryAdjustment,
    NewOrder,
    NewOrderLine,
    NewProduct,
    ProductChanges,
)
from tests.fixtures.rackbeat_sim import RackbeatSim, WebhookReceiver

KAFFE = {
    "products": [
        {
            "number": "KAF-1",
            "name": "Kaffe",
            "sales_price": "100",
            "stock": [{"location": 1, "quantity": 10}],
        }
    ]
}


async def subscribe(client: RackbeatClient, receiver: WebhookReceiver, *events: str) -> str:
    """Subscribe to `events`; returns the token of the first (all share none: one per hook)."""
    tokens = []
    for event in events:
        hook = await client.create_webhook(event, receiver.url)
        assert hook.token is not None
        tokens.append(hook.token.get_secret_value())
    return tokens[0]


async def test_create_is_an_upsert_and_the_token_is_shown_once(
    rackbeat_sim: RackbeatSim, rackbeat_client: RackbeatClient, webhook_receiver: WebhookReceiver
) -> None:
    first = await rackbeat_client.create_webhook("product.created", webhook_receiver.url)
    again = await rackbeat_client.create_webhook(
        "product.created", webhook_receiver.url, is_active=False
    )
    assert first.token is not None
    assert len(first.token.get_secret_value()) == 32
    assert first.token.get_secret_value() not in repr(first)
    assert again.id == first.id
    assert again.token is None
    assert again.is_active is False
    hooks = await rackbeat_client.list_webhooks()
    assert [(h.id, h.token) for h in hooks] == [(first.id, None)]
    with pytest.raises(ValidationFailed) as bad:
        await rackbeat_client.create_webhook("no.such.event", "not a url")
    assert set(bad.value.field_errors) == {"event", "url"}


async def test_delivery_has_rackbeat_headers_and_body(
    rackbeat_sim: RackbeatSim, rackbeat_client: RackbeatClient, webhook_receiver: WebhookReceiver
) -> None:
    token = await subscribe(rackbeat_client, webhook_receiver, "product.created")
    await rackbeat_client.create_product(
        NewProduct(number="NY-1", name="Ny", group=1, sales_price=Decimal(5))
    )
    [hook] = await webhook_receiver.wait_for(1)
    assert hook.headers["rackbeat-webhook-token"] == token
    assert hook.headers["rackbeat-webhook-event"] == "product.created"
    assert hook.headers["rackbeat-account-id"] == "1"
    assert hook.headers["user-agent"] == "Rackbeat Webhook"
    # Real deliveries: no event, no data in the body (docs/api-assumptions.md, W1).
    assert hook.body == {"key_name": "number", "key": "NY-1"}


@pytest.mark.rackbeat_switches(webhook_body="item_type")
async def test_strict_stock_delivery_body_names_the_item_only(
    rackbeat_sim: RackbeatSim, rackbeat_client: RackbeatClient, webhook_receiver: WebhookReceiver
) -> None:
    await rackbeat_sim.seed(KAFFE)
    await subscribe(rackbeat_client, webhook_receiver, "inventory.changed")
    await rackbeat_sim.stock("KAF-1", 1, quantity=3)
    [hook] = await webhook_receiver.wait_for(1)
    assert hook.headers["rackbeat-webhook-event"] == "inventory.changed"
    assert hook.body == {"item": "KAF-1", "item_type": "product", "type": "stock"}


@pytest.mark.rackbeat_switches(webhook_body="with_event")
async def test_legacy_delivery_body_has_the_documented_event_and_data(
    rackbeat_sim: RackbeatSim, rackbeat_client: RackbeatClient, webhook_receiver: WebhookReceiver
) -> None:
    await subscribe(rackbeat_client, webhook_receiver, "product.created")
    await rackbeat_client.create_product(
        NewProduct(number="NY-1", name="Ny", group=1, sales_price=Decimal(5))
    )
    [hook] = await webhook_receiver.wait_for(1)
    assert (hook.body["key"], hook.body["key_name"]) == ("NY-1", "number")
    assert hook.body["event"] == "product.created"
    assert hook.body["data"]["number"] == "NY-1"


@pytest.mark.rackbeat_switches(webhook_body="with_event")  # legacy: the documented body
async def test_updates_carry_old_key_new_key_and_changed(
    rackbeat_sim: RackbeatSim, rackbeat_client: RackbeatClient, webhook_receiver: WebhookReceiver
) -> None:
    await rackbeat_sim.seed(KAFFE)
    await subscribe(rackbeat_client, webhook_receiver, "product.updated")
    await rackbeat_sim.edit_product("KAF-1", name="Kaffe mørk")
    await rackbeat_client.update_product("KAF-1", ProductChanges(number="KAF-2"))
    first, second = await webhook_receiver.wait_for(2)
    assert (first.body["old_key"], first.body["new_key"], first.body["changed"]) == (
        "KAF-1",
        "KAF-1",
        ["name"],
    )
    assert (second.body["old_key"], second.body["new_key"], second.body["changed"]) == (
        "KAF-1",
        "KAF-2",
        ["number"],
    )
    assert second.body["key"] == "KAF-2"


async def test_failing_receiver_gets_the_delivery_retried(
    rackbeat_sim: RackbeatSim, rackbeat_client: RackbeatClient, webhook_receiver: WebhookReceiver
) -> None:
    await rackbeat_sim.seed(KAFFE)
    await subscribe(rackbeat_client, webhook_receiver, "inventory.changed")
    webhook_receiver.failures_to_answer = 2
    await rackbeat_sim.stock("KAF-1", 1, quantity=3)
    await rackbeat_sim.idle()
    assert len(webhook_receiver.received) == 1
    assert webhook_receiver.attempts == 3
    stats = await rackbeat_sim.webhook_stats()
    assert (stats["delivered"], stats["failed_attempts"], stats["pending"]) == (1, 2, 0)


async def test_duplicate_fault_delivers_twice(
    rackbeat_sim: RackbeatSim, rackbeat_client: RackbeatClient, webhook_receiver: WebhookReceiver
) -> None:
    await rackbeat_sim.seed(KAFFE)
    await subscribe(rackbeat_client, webhook_receiver, "inventory.changed")
    await rackbeat_sim.set_faults(webhook_duplicate_rate=1.0)
    await rackbeat_sim.stock("KAF-1", 1, set=7)
    await rackbeat_sim.idle()
    first, second = webhook_receiver.received
    assert first.body == second.body
    assert first.headers["rackbeat-webhook-token"] == second.headers["rackbeat-webhook-token"]


@pytest.mark.rackbeat_switches(adjustment_booking="booked")  # one call per adjustment
async def test_suppress_webhooks_is_honoured(
    rackbeat_sim: RackbeatSim, rackbeat_client: RackbeatClient, webhook_receiver: WebhookReceiver
) -> None:
    await rackbeat_sim.seed(KAFFE)
    await subscribe(
        rackbeat_client, webhook_receiver, "product.created", "product.updated", "inventory.changed"
    )
    await rackbeat_client.create_product(
        NewProduct(number="Q-1", name="Q", group=1, sales_price=Decimal(1)), suppress_webhooks=True
    )
    await rackbeat_client.update_product("Q-1", ProductChanges(name="Q2"), suppress_webhooks=True)
    async with rackbeat_sim.raw() as http:  # the body-key form of the flag
        await http.post(
            "inventory-adjustments",
            json={
                "item_id": "KAF-1",
                "location": 1,
                "quantity": 1,
                "regulated_at": "2026-12-01",
                "reason": "Count",
                "suppress_webhooks": True,
            },
        )
    await rackbeat_sim.idle()
    assert webhook_receiver.received == []
    stats = await rackbeat_sim.webhook_stats()
    assert stats["suppressed"] == {
        "product.created": 1,
        "product.updated": 1,
        "inventory.changed": 1,
    }

    await rackbeat_client.create_inventory_adjustment(
        NewInventoryAdjustment(item_number="KAF-1", location_number=1, quantity=2)
    )
    await webhook_receiver.wait_for(1)
    assert webhook_receiver.events() == ["inventory.changed"]


@pytest.mark.rackbeat_switches(webhook_body="with_event")  # legacy: reads body data and cause
async def test_order_flow_fires_order_and_inventory_events(
    rackbeat_sim: RackbeatSim, rackbeat_client: RackbeatClient, webhook_receiver: WebhookReceiver
) -> None:
    await rackbeat_sim.seed(KAFFE)
    await subscribe(
        rackbeat_client, webhook_receiver, "order.created", "order.booked", "inventory.changed"
    )
    created = await rackbeat_client.create_order(
        NewOrder(
            customer_id=1,
            heading="SB-9",
            lines=[NewOrderLine(item_id="KAF-1", quantity=1, location_id=2)],
        ),
        book=True,
    )
    await rackbeat_client.ship_order(created.number)
    await rackbeat_sim.idle()
    assert sorted(webhook_receiver.events()) == sorted(
        ["order.created", "order.booked", "inventory.changed", "inventory.changed"]
    )
    stock_events = [
        h.body for h in webhook_receiver.received if h.body["event"] == "inventory.changed"
    ]
    for body in stock_events:
        assert (body["key"], body["key_name"]) == ("KAF-1", "number")
        assert body["data"]["locations"] == [{"number": 2, "name": "Butik"}]
    assert sorted(b["data"]["cause"] for b in stock_events) == ["order.booked", "order.shipped"]
    order_created = next(
        h.body for h in webhook_receiver.received if h.body["event"] == "order.created"
    )
    assert order_created["key"] == created.number


async def test_inactive_and_deleted_webhooks_get_nothing(
    rackbeat_sim: RackbeatSim, rackbeat_client: RackbeatClient, webhook_receiver: WebhookReceiver
) -> None:
    await rackbeat_sim.seed(KAFFE)
    hook = await rackbeat_client.create_webhook("inventory.changed", webhook_receiver.url)
    await rackbeat_client.create_webhook("inventory.changed", webhook_receiver.url, is_active=False)
    await rackbeat_sim.stock("KAF-1", 1, quantity=1)
    await rackbeat_client.delete_webhook(hook.id)
    await rackbeat_sim.stock("KAF-1", 1, quantity=1)
    await rackbeat_sim.idle()
    assert webhook_receiver.received == []
    assert (await rackbeat_sim.webhook_stats())["fired"] == {"inventory.changed": 2}

"""Configuration and run-time state of one Shopbox simulator, plus its optional push webhook."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from infra.simulators.common import Delivery, Faults, SimulatorState, WebhookDispatcher
from infra.simulators.shopbox.shop import Basket, Shop
from infra.simulators.shopbox.switches import PREFIX, SWITCHES
from infra.simulators.switches import resolve

DEMO_SHOP = Path(__file__).resolve().parent.parent / "fixtures" / "demo_shop.json"
DEV_TOKEN = "shopbox-dev-token"  # noqa: S105 - documented local-only default, not a secret
DEV_HOOK_SECRET = "shopbox-dev-hook-secret"  # noqa: S105 - same
DEMO_USERNAME = "demo@shopbox.test"
DEMO_PASSWORD = "demo-password"  # noqa: S105 - same


def default_token() -> str:
    return os.environ.get("SHOPBOX_SIM_TOKEN", DEV_TOKEN)


def load_fixture(source: Path | str | dict[str, Any] | None) -> dict[str, Any] | None:
    if source is None or isinstance(source, dict):
        return source
    loaded: dict[str, Any] = json.loads(Path(source).read_text(encoding="utf-8"))
    return loaded


@dataclass
class ShopboxConfig:
    """What `create_app` needs. `seed` is a fixture path or dict; None starts an empty shop."""

    tokens: tuple[str, ...] = field(default_factory=lambda: (default_token(),))
    seed: Path | str | dict[str, Any] | None = None
    webhook_url: str | None = None
    webhook_secret: str = DEV_HOOK_SECRET
    faults: Faults = field(default_factory=Faults)
    default_per_page: int = 20
    lines_key: str = "basket_items"  # where basket lines are read back (A5 best guess)
    username: str = DEMO_USERNAME
    password: str = DEMO_PASSWORD
    profile: str | None = None  # evidence | strict | legacy; else SHOPBOX_SIM_PROFILE
    switches: dict[str, str] = field(default_factory=dict)  # per-switch overrides


@dataclass
class ShopboxState(SimulatorState):
    """Faults and counters (common) plus the shop, the seed it resets to, and the webhook."""

    config: ShopboxConfig = field(default_factory=ShopboxConfig)
    shop: Shop = field(default_factory=Shop)
    seed: dict[str, Any] | None = None
    webhook_url: str | None = None
    webhook_secret: str = DEV_HOOK_SECRET
    dispatcher: WebhookDispatcher | None = None
    switches: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: ShopboxConfig) -> ShopboxState:
        state = cls(config=config, seed=load_fixture(config.seed))
        state.switches = resolve(SWITCHES, PREFIX, config.profile, config.switches)
        state.use_switches(state.switches)
        state.set_faults(config.faults)
        state.dispatcher = WebhookDispatcher(state)
        state.reset()
        return state

    def reset(self) -> None:
        """Back to the seed and the configured webhook (faults and counts are reset by common)."""
        self.shop.load(self.seed or {})
        self.webhook_url = self.config.webhook_url
        self.webhook_secret = self.config.webhook_secret

    @property
    def client_uid(self) -> int:
        return int(self.shop.client.get("uid", 1))

    def notify(self, event: str, basket: Basket) -> None:
        """Push `basket.created` / `basket.canceled` if a webhook URL is set (UNCONFIRMED, A7),
        or, per the `push_body` switch, the vendor plugin's `updateInventory` units sold."""
        if not self.webhook_url or self.dispatcher is None:
            return
        units = self.switches["push_body"] == "update_inventory"
        action = "updateInventory" if units else event
        separator = "&" if "?" in self.webhook_url else "?"
        query = urlencode({"shopbox_hook_id": self.webhook_secret, "action": action})
        self.dispatcher.submit(
            Delivery(
                url=f"{self.webhook_url}{separator}{query}",
                headers={"User-Agent": "Shopbox Simulator Webhook"},
                body=units_sold(event, basket) if units else webhook_body(event, basket),
            )
        )


def webhook_body(event: str, basket: Basket) -> dict[str, Any]:
    """The push body: event and basket identity, plus the plugin's sold-items list (A7)."""
    return {
        "event": event,
        "basket_uid": basket.uid,
        "branch": basket.branch,
        "cash_register": basket.cash_register,
        "creation_time": basket.creation_time,
        "canceled": basket.canceled,
        "items": [
            {
                "product_id": item.product,
                "variance_id": item.product_variance,
                "quantity": item.quantity,
            }
            for item in basket.items
            if item.product is not None
        ],
    }


def units_sold(event: str, basket: Basket) -> list[dict[str, Any]]:
    """The `updateInventory` body: `[{product_id, variance_id?, quantity}]`, units sold (a
    cancel gives them back, as negative units: a guess)."""
    sign = -1 if event == "basket.canceled" else 1
    return [
        {"product_id": item.product, "quantity": sign * item.quantity}
        | ({"variance_id": item.product_variance} if item.product_variance else {})
        for item in basket.items
        if item.product is not None
    ]

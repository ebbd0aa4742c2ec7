"""Configuration and the whole in-memory state of one simulated Rackbeat account."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field

from infra.simulators.common import Faults, SimulatorState, WebhookDispatcher
from infra.simulators.rackbeat.seed import DEFAULT_SEED, load_seed
from infra.simulators.rackbeat.store import Store, StoreSettings
from infra.simulators.rackbeat.switches import PREFIX, SWITCHES
from infra.simulators.rackbeat.webhooks import DEFAULT_EVENTS, WebhookBus
from infra.simulators.switches import resolve

DEV_TOKEN = "rackbeat-sim-dev-token"  # noqa: S105 - a documented token for the local simulator
"""Accepted when neither `--token` nor RACKBEAT_SIM_TOKEN is given."""


def default_tokens() -> list[str]:
    raw = os.environ.get("RACKBEAT_SIM_TOKEN", "")
    tokens = [t.strip() for t in raw.split(",") if t.strip()]
    return tokens or [DEV_TOKEN]


class RackbeatConfig(BaseModel):
    tokens: list[str] = Field(default_factory=default_tokens, min_length=1)
    account_id: int = 1
    faults: Faults = Field(
        default_factory=lambda: Faults(rate_limit_per_minute=480),
        description="at start and after a reset; Rackbeat's 480/min limit is on by default",
    )
    events: tuple[str, ...] = DEFAULT_EVENTS
    seed: dict[str, Any] | None = None
    webhook_max_attempts: int = Field(6, ge=1)
    webhook_base_backoff_s: float = Field(0.2, ge=0)
    profile: str | None = Field(None, description="evidence | strict | legacy; else from env")
    switches: dict[str, str] = Field(default_factory=dict, description="per-switch overrides")

    def switch_values(self) -> dict[str, str]:
        return resolve(SWITCHES, PREFIX, self.profile, self.switches)

    def default_faults(self) -> Faults:
        return self.faults.model_copy()

    def __repr__(self) -> str:  # tokens stay out of logs
        return f"RackbeatConfig(account_id={self.account_id}, tokens=<{len(self.tokens)} hidden>)"


@dataclass
class RackbeatState:
    config: RackbeatConfig
    sim: SimulatorState = field(default_factory=SimulatorState)
    store: Store = field(default_factory=Store)
    bus: WebhookBus = field(init=False)
    switches: dict[str, str] = field(init=False)
    fail_next: list[int] = field(default_factory=list)
    """Statuses for the next API calls, one each (deterministic 5xx for retry tests)."""

    def __post_init__(self) -> None:
        self.switches = self.config.switch_values()
        dispatcher = WebhookDispatcher(
            self.sim,
            max_attempts=self.config.webhook_max_attempts,
            base_backoff_s=self.config.webhook_base_backoff_s,
        )
        self.bus = WebhookBus(
            dispatcher, self.config.account_id, self.config.events, self.switches["webhook_body"]
        )
        self.sim.use_switches(self.switches)
        self.sim.set_faults(self.config.default_faults())
        self.store = fresh_store(self.config)

    def reset(self) -> None:
        """Back to the configured seed: data, subscriptions and counters (faults: by caller)."""
        self.store = fresh_store(self.config)
        self.bus.reset()
        self.fail_next.clear()


def fresh_store(config: RackbeatConfig) -> Store:
    switches = config.switch_values()
    settings = StoreSettings(
        auto_book_adjustments=switches["adjustment_booking"] == "booked",
        adjustment_body=switches["adjustment_body"],
        order_line_shape=switches["order_line_shape"],
        stock_bumps_updated_at=switches["stock_bumps_updated_at"] == "yes",
    )
    store = Store(settings=settings)
    load_seed(store, DEFAULT_SEED)
    if config.seed:
        load_seed(store, config.seed)
    return store

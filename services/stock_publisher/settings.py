"""stock-publisher's own settings (env prefix STOCK_); the shared ones live in services.common."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class StockSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="STOCK_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    quantity: Literal["available", "in_stock"] = Field(
        "available",
        description="which Rackbeat figure is pushed: in stock minus on order, or in stock",
    )
    safety_buffer: dict[int, Decimal] = Field(
        default_factory=dict, description="JSON: Rackbeat location number -> units held back"
    )
    public_url: str | None = Field(
        None,
        description="our public base URL; when set, the inventory.changed webhook is registered",
    )
    poll_interval_s: float = Field(30.0, gt=0, description="changed-since poll of Rackbeat items")
    full_sweep_interval_s: float = Field(900.0, gt=0, description="read every item's stock")
    read_debounce_s: float = Field(0.5, ge=0, description="gather webhooks per item before reading")
    push_quiet_s: float = Field(0.5, ge=0, description="write once a key has been quiet this long")
    push_max_delay_s: float = Field(3.0, gt=0, description="...or at the latest this long after")
    sales_lookback_hours: float = Field(
        48.0, gt=0, description="how far back unabsorbed Shopbox sales are read on start"
    )
    reconcile_interval_s: float = Field(
        300.0,
        ge=0,
        description="compare Shopbox with the targets and correct drift this often; 0 = off",
    )

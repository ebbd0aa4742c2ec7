"""order-ingest settings (env prefix ORDER_INGEST_); the Shopbox connection is SHOPBOX_*."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class OrderIngestSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ORDER_INGEST_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    poll_enabled: bool = Field(True, description="poll GET /baskets (the main path)")
    poll_interval_s: float = Field(5.0, gt=0)
    initial_lookback_s: int = Field(
        0,
        ge=0,
        description="first start without a cursor (no initial sync ran): the sync start point is "
        "this far before the start. Non-zero deliberately syncs sales made before it, which the "
        "stock in Rackbeat may already reflect",
    )
    sweep_interval_s: float = Field(300.0, gt=0, description="reconciliation sweep period")
    sweep_window_s: int = Field(86_400, gt=0, description="how far back the sweep looks")
    sweep_grace_s: float = Field(
        60.0, ge=0, description="the sweep leaves baskets younger than this to webhook and poll"
    )

"""order-writer settings (env prefix ORDER_WRITER_); VAT and branch mapping are SYNC_*."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class OrderWriterSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ORDER_WRITER_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    group_id: str | None = Field(
        None, description="consumer group on shopbox.sales.v1; default <namespace>order-writer"
    )
    cash_customer_number: int = Field(1, description="Rackbeat customer every sale is booked on")
    order_state: Literal["booked", "draft"] = Field(
        "booked", description="booked reserves stock at once; draft waits for a person"
    )
    free_text_item_number: str | None = Field(
        None, description="Rackbeat item for Shopbox lines without a product (e.g. shipping)"
    )

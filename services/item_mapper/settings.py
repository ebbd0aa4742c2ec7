"""item-mapper's own settings (prefix ITEM_MAPPER_); the master choice is SYNC_ITEM_MASTER."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ItemMapperSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ITEM_MAPPER_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    poll_interval_s: float = Field(2.0, gt=0, description="how often the master side is polled")
    rackbeat_group: int = Field(1, description="Rackbeat product group for created products")
    full_pass_interval_s: float = Field(
        300.0, gt=0, description="how often the master is read in full (finds removed SKUs)"
    )
    initial_sync_concurrency: int = Field(8, ge=1, description="products applied in parallel")

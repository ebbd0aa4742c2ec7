"""Dashboard settings (env prefix DASHBOARD_). Kafka is KAFKA_*, like every service."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class DashboardSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="DASHBOARD_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    order_ingest_url: str = Field("http://127.0.0.1:8001", description="order-ingest base URL")
    order_writer_url: str = Field("http://127.0.0.1:8002", description="order-writer base URL")
    stock_publisher_url: str = Field(
        "http://127.0.0.1:8003", description="stock-publisher base URL"
    )
    item_mapper_url: str = Field("http://127.0.0.1:8004", description="item-mapper base URL")
    refresh_s: int = Field(5, ge=1, description="the page reloads itself this often")
    recent_records: int = Field(20, ge=1, le=500, description="rows of recent activity shown")
    dead_letters_shown: int = Field(10, ge=1, le=500, description="newest dead letters shown")
    lag_warning: int = Field(100, ge=1, description="a group this far behind marks its direction")
    lag_age_warning_s: float = Field(
        120, gt=0, description="an unprocessed record this old (seconds) marks its direction"
    )

    def service_urls(self) -> dict[str, str]:
        return {
            "order-ingest": self.order_ingest_url,
            "order-writer": self.order_writer_url,
            "stock-publisher": self.stock_publisher_url,
            "item-mapper": self.item_mapper_url,
        }

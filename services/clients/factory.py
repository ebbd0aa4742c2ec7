"""The one place an API client is built from settings (services, syncctl, the initial sync)."""

from __future__ import annotations

from services.clients.rackbeat import RackbeatClient
from services.clients.shopbox import ShopboxClient
from services.common.settings import LogSettings, RackbeatSettings, ShopboxSettings


def rackbeat_client(settings: RackbeatSettings | None = None) -> RackbeatClient:
    settings = settings or RackbeatSettings()
    client = RackbeatClient(
        settings.base_url,
        settings.api_token,
        requests_per_minute=settings.requests_per_minute,
    )
    client.lookup_strategies = list(settings.order_lookup)
    client.refused_filters = set(settings.refused_filters)
    client.samples.enabled = LogSettings().api_samples
    return client


def shopbox_client(settings: ShopboxSettings | None = None) -> ShopboxClient:
    settings = settings or ShopboxSettings()
    client = ShopboxClient(
        settings.base_url,
        settings.api_token.get_secret_value(),
        requests_per_minute=settings.requests_per_minute,
    )
    client.samples.enabled = LogSettings().api_samples
    return client

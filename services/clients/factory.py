"""The one place an API client is built from settings (services, syncctl, the initial sync)."""

from __future__ import annotations

from typing import Any, TypeVar, overload

from services.clients.rackbeat import RackbeatClient
from services.clients.shopbox import ShopboxClient
from services.common.settings import RackbeatSettings, ShopboxSettings

R = TypeVar("R", bound=RackbeatClient)
S = TypeVar("S", bound=ShopboxClient)


@overload
def rackbeat_client(settings: RackbeatSettings | None = None) -> RackbeatClient: ...
@overload
def rackbeat_client(settings: RackbeatSettings | None, cls: type[R]) -> R: ...
def rackbeat_client(settings: RackbeatSettings | None = None, cls: Any = RackbeatClient) -> Any:
    settings = settings or RackbeatSettings()
    return cls(
        settings.base_url,
        settings.api_token,
        requests_per_minute=settings.requests_per_minute,
    )


@overload
def shopbox_client(settings: ShopboxSettings | None = None) -> ShopboxClient: ...
@overload
def shopbox_client(settings: ShopboxSettings | None, cls: type[S]) -> S: ...
def shopbox_client(settings: ShopboxSettings | None = None, cls: Any = ShopboxClient) -> Any:
    settings = settings or ShopboxSettings()
    return cls(
        settings.base_url,
        settings.api_token.get_secret_value(),
        requests_per_minute=settings.requests_per_minute,
    )

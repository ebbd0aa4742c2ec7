"""Typed async client for the Rackbeat API (https://app.rackbeat.com/api/ and the simulator).

Rackbeat wraps single records in their singular key (`{"product": {...}}`) and pages lists
(`{"products": [...], "total", "pages", "limit", "page"}`, HTTP 206). This client unwraps both,
parses what the sync reads into Pydantic models (money and quantities as `Decimal`), and sends
item numbers double-URL-encoded, as Rackbeat's docs advise for numbers with `/ ? + space`.
Errors are the `ApiError` family from `services.clients.http`; a 422 carries its field errors.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Hashable, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, SecretStr, ValidationError

from services.clients.http import ApiClient, ApiError, NotFound, RetryPolicy, ValidationFailed
from services.clients.rackbeat_models import (
    Account,
    Customer,
    InventoryAdjustment,
    Item,
    ItemLocationStock,
    Location,
    M,
    NewInventoryAdjustment,
    NewOrder,
    NewProduct,
    Order,
    OrderShipment,
    Product,
    ProductChanges,
    VariantStock,
    Variation,
    VariationOption,
    Webhook,
)
from services.common.logging import get_logger

_log = get_logger(__name__)


def item_path(number: str) -> str:
    """Double URL-encoding, as Rackbeat advises for item numbers with `/ ? + space`."""
    return quote(quote(number, safe=""), safe="")


def to_json(value: Any) -> Any:
    """Request bodies: Decimals as JSON numbers (Rackbeat sends and takes numbers)."""
    if isinstance(value, BaseModel):
        return to_json(value.model_dump(exclude_none=True))
    if isinstance(value, Mapping):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


LOOKUP_STRATEGIES = ("window", "search", "scan")
"""How `find_orders_by_reference` asks for candidates, in order of preference: a bounded
`created_at_from` window (a filter one integrator confirmed), the `search` filter (documented
only as "order number or customer name"), then every order. A 422 moves to the next one."""

DEFAULT_LOOKUP_WINDOW = timedelta(days=31)


def heading_with_reference(text: str, reference: str) -> str:
    """A heading that carries `reference`: the heading is confirmed to survive a create, while
    `their_reference` on orders is not (docs/api-assumptions.md, R15)."""
    return f"{text} [{reference}]"


def carries_reference(order: Order, reference: str) -> bool:
    heading = order.heading or ""
    return reference in (heading, order.their_reference) or f"[{reference}]" in heading


def rejected_fields(exc: ValidationError) -> list[str]:
    """`field.path: what was wrong` for each error, without the values (they may be personal)."""
    return [".".join(str(p) for p in e["loc"]) + ": " + e["msg"] for e in exc.errors()]


class RackbeatClient(ApiClient):
    api_name = "Rackbeat"

    def __init__(
        self,
        base_url: str,
        token: str | SecretStr,
        *,
        requests_per_minute: int | None = 480,
        timeout_s: float = 15.0,
        retry: RetryPolicy | None = None,
        user_agent: str = "shopbox-rackbeat-sync",
    ) -> None:
        secret = token.get_secret_value() if isinstance(token, SecretStr) else token
        super().__init__(
            base_url,
            headers={
                "Authorization": f"Bearer {secret}",
                "Accept": "application/json",
                "User-Agent": user_agent,
            },
            requests_per_minute=requests_per_minute,
            timeout_s=timeout_s,
            retry=retry,
        )
        self.base_url = base_url
        self.skipped_rows = 0
        self.lookup_strategies = list(LOOKUP_STRATEGIES)
        """Strategies still believed to work; one answered 422 is dropped for this process."""

    def __repr__(self) -> str:
        return f"RackbeatClient(base_url={self.base_url!r})"

    async def __aenter__(self) -> RackbeatClient:
        return self

    # ---------------------------------------------------------------------------- plumbing

    def _one(self, body: Any, key: str, model: type[M], call: str) -> M:
        if not isinstance(body, dict) or key not in body:
            raise ApiError(self.api_name, call, None, f"answer has no '{key}' object")
        try:
            return model.model_validate(body[key])
        except ValidationError as exc:
            raise ApiError(self.api_name, call, None, f"unexpected {key} shape: {exc}") from None

    async def _get_one(
        self, path: str, key: str, model: type[M], params: Mapping[str, Any] | None = None
    ) -> M:
        body = await self._request("GET", path, params=params)
        return self._one(body, key, model, f"GET /{path}")

    async def _write_one(
        self,
        method: str,
        path: str,
        key: str,
        model: type[M],
        payload: Any = None,
        *,
        suppress_webhooks: bool = False,
        idempotent: bool = True,
    ) -> M:
        """`idempotent=False` for a write whose repeat would repeat its effect (an order, a
        shipment, a relative adjustment): a 5xx or timeout is then raised, not retried, since the
        first try may have gone through. The caller looks before it writes again."""
        params = {"suppress_webhooks": "true"} if suppress_webhooks else None
        body = await self._request(
            method, path, params=params, json=to_json(payload), idempotent=idempotent
        )
        return self._one(body, key, model, f"{method} /{path}")

    async def _pages(
        self,
        path: str,
        key: str,
        model: type[M],
        *,
        params: Mapping[str, Any] | None = None,
        page_size: int = 200,
        identity: Callable[[M], Hashable] | None = None,
    ) -> AsyncIterator[M]:
        """Every record over all pages. Records that shift onto the next page while we read
        (an insert before them) would come twice; `identity` drops the repeat."""
        seen: set[Hashable] = set()
        page = 1
        while True:
            query = {**(params or {}), "page": page, "limit": page_size}
            body = await self._request("GET", path, params=query)
            rows = body.get(key) if isinstance(body, dict) else None
            if not isinstance(rows, list):
                raise ApiError(self.api_name, f"GET /{path}", None, f"answer has no '{key}' list")
            for raw in rows:
                record = self._row(model, raw, f"GET /{path}")
                if record is None:
                    continue
                if identity is not None:
                    ident = identity(record)
                    if ident in seen:
                        continue
                    seen.add(ident)
                yield record
            if not rows or page >= int(body.get("pages", page)):
                return
            page += 1

    def _row(self, model: type[M], raw: Any, endpoint: str) -> M | None:
        """One list row, or None (logged with the endpoint and fields) when it does not fit:
        one odd row must not abort a walk (docs/api-assumptions.md, R15)."""
        try:
            return model.model_validate(raw)
        except ValidationError as exc:
            self.skipped_rows += 1
            _log.warning(
                "unreadable row skipped",
                endpoint=endpoint,
                fields=rejected_fields(exc),
                expected=model.__name__,
            )
            return None

    # ---------------------------------------------------------------------------- account

    async def account(self) -> Account:
        """`GET /self`: the account id is the tenant key."""
        return await self._get_one("self", "user_account", Account)

    # ---------------------------------------------------------------------------- products

    def iter_products(
        self,
        *,
        updated_since: datetime | None = None,
        search: str | None = None,
        page_size: int = 200,
    ) -> AsyncIterator[Product]:
        return self._pages(
            "products",
            "products",
            Product,
            params=_item_filters(updated_since, search),
            page_size=page_size,
            identity=lambda p: p.number,
        )

    def iter_items(
        self,
        *,
        updated_since: datetime | None = None,
        search: str | None = None,
        page_size: int = 200,
    ) -> AsyncIterator[Item]:
        return self._pages(
            "items",
            "items",
            Item,
            params=_item_filters(updated_since, search),
            page_size=page_size,
            identity=lambda p: p.number,
        )

    async def get_product(self, number: str) -> Product:
        return await self._get_one(f"products/{item_path(number)}", "product", Product)

    async def find_product(self, number: str) -> Product | None:
        try:
            return await self.get_product(number)
        except NotFound:
            return None

    async def get_item(self, number: str) -> Item:
        return await self._get_one(f"items/{item_path(number)}", "item", Item)

    async def create_product(
        self, product: NewProduct, *, suppress_webhooks: bool = False
    ) -> Product:
        # Retried on 5xx: the number is unique, so a repeat cannot make a second product (422).
        return await self._write_one(
            "POST", "products", "product", Product, product, suppress_webhooks=suppress_webhooks
        )

    async def update_product(
        self, number: str, changes: ProductChanges, *, suppress_webhooks: bool = False
    ) -> Product:
        payload = changes.model_dump(exclude_unset=True)
        return await self._write_one(
            "PUT",
            f"products/{item_path(number)}",
            "product",
            Product,
            payload,
            suppress_webhooks=suppress_webhooks,
        )

    async def delete_product(self, number: str, *, suppress_webhooks: bool = False) -> None:
        params = {"suppress_webhooks": "true"} if suppress_webhooks else None
        await self._request("DELETE", f"products/{item_path(number)}", params=params)

    async def list_variations(self) -> list[Variation]:
        return [v async for v in self._pages("variations", "variations", Variation)]

    async def get_variation(self, variation_id: int) -> Variation:
        return await self._get_one(f"variations/{variation_id}", "variation", Variation)

    async def create_variation(self, name: str, type_name: str, options: list[str]) -> Variation:
        body = {
            "name": name,
            "types": [{"name": type_name, "options": [{"name": o} for o in options]}],
        }
        # Not idempotent: a retried create after a 5xx could make two. The caller looks the
        # variation up by its (deterministic) name before creating, so a re-run reuses it.
        response = await self._request("POST", "variations", json=body, idempotent=False)
        return self._one(response, "variation", Variation, "POST /variations")

    async def add_variation_option(
        self, variation_id: int, type_id: int, name: str
    ) -> VariationOption:
        path = f"variations/{variation_id}/types/{type_id}/options"
        response = await self._request("POST", path, json={"name": name}, idempotent=False)
        return self._one(response, "variation_option", VariationOption, f"POST /{path}")

    async def variant_stock(
        self, number: str, *, location: int | None = None
    ) -> list[VariantStock]:
        """Stock per variant (optionally one location). The JSON shape is UNCONFIRMED."""
        params = {"location_id": location} if location is not None else None
        body = await self._request(
            "GET", f"products/{item_path(number)}/variation-matrix", params=params
        )
        matrix = body.get("variation_matrix") if isinstance(body, dict) else None
        rows = matrix.get("variants") if isinstance(matrix, dict) else None
        if not isinstance(rows, list):
            raise ApiError(self.api_name, "GET variation-matrix", None, "unexpected shape")
        return [VariantStock.model_validate(row) for row in rows]

    # ---------------------------------------------------------------------------- stock

    async def list_locations(self) -> list[Location]:
        return [loc async for loc in self._pages("locations", "locations", Location)]

    async def item_stock(self, number: str) -> list[ItemLocationStock]:
        """Stock per location for one item (`GET /items/{n}/locations`)."""
        path = f"items/{item_path(number)}/locations"
        return [row async for row in self._pages(path, "locations", ItemLocationStock)]

    async def create_inventory_adjustment(
        self, adjustment: NewInventoryAdjustment, *, suppress_webhooks: bool = False
    ) -> InventoryAdjustment:
        payload = {"item_type": "product", **adjustment.model_dump(exclude_none=True)}
        return await self._write_one(
            "POST",
            "inventory-adjustments",
            "inventory_adjustment",
            InventoryAdjustment,
            payload,
            suppress_webhooks=suppress_webhooks,
            idempotent=not adjustment.relative,  # an absolute level may be set twice
        )

    # ---------------------------------------------------------------------------- customers

    async def get_customer(self, number: int) -> Customer:
        return await self._get_one(f"customers/{number}", "customer", Customer)

    # ---------------------------------------------------------------------------- orders

    def iter_orders(
        self,
        *,
        is_booked: bool | None = None,
        search: str | None = None,
        updated_since: datetime | None = None,
        page_size: int = 200,
    ) -> AsyncIterator[Order]:
        params: dict[str, Any] = _item_filters(updated_since, search)
        if is_booked is not None:
            params["is_booked"] = "true" if is_booked else "false"
        return self._pages(
            "orders",
            "orders",
            Order,
            params=params,
            page_size=page_size,
            identity=lambda o: o.number,
        )

    async def get_order(self, number: int) -> Order:
        return await self._get_one(f"orders/{number}", "order", Order)

    async def create_order(
        self, order: NewOrder, *, book: bool, suppress_webhooks: bool = False
    ) -> Order:
        """`book=True` posts to `/orders` (created booked), else to `/orders/drafts`."""
        path = "orders" if book else "orders/drafts"
        return await self._write_one(
            "POST",
            path,
            "order",
            Order,
            order,
            suppress_webhooks=suppress_webhooks,
            idempotent=False,
        )

    async def book_order(self, number: int, *, suppress_webhooks: bool = False) -> Order:
        return await self._write_one(
            "POST",
            f"orders/{number}/book",
            "order",
            Order,
            {"mail": {"send": False}},
            suppress_webhooks=suppress_webhooks,
            idempotent=False,
        )

    async def ship_order(self, number: int, *, suppress_webhooks: bool = False) -> OrderShipment:
        return await self._write_one(
            "POST",
            f"orders/{number}/create-shipment",
            "order_shipment",
            OrderShipment,
            suppress_webhooks=suppress_webhooks,
            idempotent=False,
        )

    async def cancel_order(self, number: int, *, suppress_webhooks: bool = False) -> Order:
        """`POST /orders/{n}/cancel`: a booked order releases its reservations (simulator; the
        real endpoint is UNCONFIRMED, apis.md 1.8 only shows the `is_cancelled` flag)."""
        return await self._write_one(
            "POST",
            f"orders/{number}/cancel",
            "order",
            Order,
            suppress_webhooks=suppress_webhooks,
            idempotent=False,
        )

    async def find_orders_by_reference(
        self, reference: str, *, created_after: datetime | None = None
    ) -> list[Order]:
        """Orders that carry `reference` (in the heading or `their_reference`), matched here.

        No server filter is trusted to match: candidates come from the first strategy of
        `lookup_strategies` that works (a 422 "not filterable" drops it and tries the next,
        never failing the sale); `created_after` bounds the window (default 31 days back).
        """
        while self.lookup_strategies:
            strategy = self.lookup_strategies[0]
            try:
                return [
                    order
                    async for order in self._candidates(strategy, reference, created_after)
                    if carries_reference(order, reference)
                ]
            except ValidationFailed as exc:
                if len(self.lookup_strategies) == 1:  # not the sale's fault: no dead letter
                    raise ApiError(
                        self.api_name, "GET /orders", exc.status, f"no order lookup works: {exc}"
                    ) from exc
                self.lookup_strategies.pop(0)
                self.log_strategy_dropped(strategy, str(exc))
        raise ApiError(self.api_name, "GET /orders", None, "no order lookup strategy works")

    def _candidates(
        self, strategy: str, reference: str, created_after: datetime | None
    ) -> AsyncIterator[Order]:
        if strategy == "search":
            return self.iter_orders(search=reference)
        params: dict[str, Any] = {}
        if strategy == "window":
            since = created_after or datetime.now(UTC) - DEFAULT_LOOKUP_WINDOW
            params["created_at_from"] = _rackbeat_time(since)
        return self._pages("orders", "orders", Order, params=params, identity=lambda o: o.number)

    def log_strategy_dropped(self, strategy: str, reason: str) -> None:
        _log.warning("order lookup strategy refused; next one", strategy=strategy, reason=reason)

    # ---------------------------------------------------------------------------- webhooks

    async def create_webhook(self, event: str, url: str, *, is_active: bool = True) -> Webhook:
        """Creates, or updates the one with the same event+url (then `token` is None)."""
        return await self._write_one(
            "POST",
            "webhooks",
            "webhook",
            Webhook,
            {"event": event, "url": url, "is_active": is_active},
        )

    async def list_webhooks(self) -> list[Webhook]:
        return [hook async for hook in self._pages("webhooks", "webhooks", Webhook)]

    async def delete_webhook(self, webhook_id: int) -> None:
        await self._request("DELETE", f"webhooks/{webhook_id}")


def _item_filters(updated_since: datetime | None, search: str | None) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if updated_since is not None:
        params["updated_at_from"] = _rackbeat_time(updated_since)
    if search:
        params["search"] = search
    return params


def _rackbeat_time(moment: datetime) -> str:
    """Rackbeat's filter format; aware times are sent as UTC."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S")

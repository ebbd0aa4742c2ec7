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
from typing import Any, TypeVar
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
    VariationHead,
    VariationOption,
    VariationType,
    VariationTypeHead,
    Webhook,
)
from services.common.logging import get_logger

_log = get_logger(__name__)


def item_path(number: str) -> str:
    """Double URL-encoding, as Rackbeat advises for item numbers with `/ ? + space`."""
    return quote(quote(number, safe=""), safe="")


# The single-record keys an adjustment is answered under: real code reads the first.
ADJUSTMENT_ANSWER_KEYS = ("inventory_regulation", "inventory_adjustment")
NO_CHANGE = "since no change is made"  # Rackbeat's 422 on an adjustment to the current level
ALREADY_BOOKED = "already booked"
# List keys of a variation's types and options: unknown; the first is the simulator's guess.
SUB_LIST_KEYS = ("variation_types", "variation_options", "types", "options")


def adjustment_body(adjustment: NewInventoryAdjustment) -> dict[str, Any]:
    """The body in both key styles seen in real code, with the date and reason both require."""
    body: dict[str, Any] = {
        "item_type": "product",
        "item_number": adjustment.item_number,
        "item_id": adjustment.item_number,
        "location_number": adjustment.location_number,
        "location": adjustment.location_number,
        "adjustment_type": "quantity",
        "quantity": adjustment.quantity,
        "relative": False,
        "regulated_at": adjustment.regulated_at or datetime.now(UTC).date(),
        "reason": adjustment.reason or "Stock level set by the Shopbox sync",
    }
    if adjustment.description:
        body["description"] = adjustment.description
    if adjustment.variations:
        body["variations"] = adjustment.variations
    return to_json(body)  # type: ignore[no-any-return]


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

UPDATED_FILTER = "updated_at_from"
P = TypeVar("P", bound=Product)


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


def _record_key(body: Any, keys: tuple[str, ...], fits: Callable[[Any], bool]) -> str | None:
    """Where the answer holds its record or list: the first of `keys` it has, else its only
    entry that `fits` (a record: an object; a list: an array), else None."""
    if not isinstance(body, dict):
        return None
    named = next((key for key in keys if key in body), None)
    if named is not None:
        return named
    fitting = [key for key, value in body.items() if fits(value)]
    return fitting[0] if len(fitting) == 1 else None


def _matrix_rows(body: Any) -> list[Any] | None:
    """The variation matrix's rows: a bare array, or the array in `variation_matrix.variants`
    (or the only array of the record or of the answer)."""
    if isinstance(body, list):
        return body
    key = _record_key(body, ("variation_matrix",), lambda value: isinstance(value, dict))
    matrix = body[key] if key else body
    rows = _record_key(matrix, ("variants",), lambda value: isinstance(value, list))
    return matrix[rows] if rows else None


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
        self.refused_filters: set[str] = set()
        """`<path>?<filter>` pairs a 422 refused: walked unfiltered from then on (R2/R3)."""

    def __repr__(self) -> str:
        return f"RackbeatClient(base_url={self.base_url!r})"

    async def __aenter__(self) -> RackbeatClient:
        return self

    # ---------------------------------------------------------------------------- plumbing

    def _one(self, body: Any, key: str, model: type[M], call: str) -> M:
        """The record under `key`, else under the answer's only key: keys do not always
        follow the path (docs/api-assumptions.md, general)."""
        return self._any_one(body, (key,), model, call)

    def _any_one(self, body: Any, keys: tuple[str, ...], model: type[M], call: str) -> M:
        """The record under the first of `keys` in the answer, else under its only key."""
        key = _record_key(body, keys, lambda value: isinstance(value, dict))
        if key is None:
            wanted = "' or '".join(keys)
            raise ApiError(self.api_name, call, None, f"answer has no '{wanted}' object")
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
        shipment): a 5xx or timeout is then raised, not retried, since the
        first try may have gone through. The caller looks before it writes again."""
        params = {"suppress_webhooks": "true"} if suppress_webhooks else None
        body = await self._request(
            method, path, params=params, json=to_json(payload), idempotent=idempotent
        )
        return self._one(body, key, model, f"{method} /{path}")

    async def _pages(
        self,
        path: str,
        key: str | tuple[str, ...],
        model: type[M],
        *,
        params: Mapping[str, Any] | None = None,
        page_size: int = 200,
        identity: Callable[[M], Hashable] | None = None,
    ) -> AsyncIterator[M]:
        """Every record over all pages, listed under `key` (or the first of several present,
        else the answer's only list).
        Records that shift onto the next page while we read
        (an insert before them) would come twice; `identity` drops the repeat."""
        keys = (key,) if isinstance(key, str) else key
        seen: set[Hashable] = set()
        page = 1
        while True:
            query = {**(params or {}), "page": page, "limit": page_size}
            body = await self._request("GET", path, params=query)
            found = _record_key(body, keys, lambda value: isinstance(value, list))
            rows = body[found] if found is not None else None
            if not isinstance(rows, list):
                wanted = "' or '".join(keys)
                raise ApiError(
                    self.api_name, f"GET /{path}", None, f"answer has no '{wanted}' list"
                )
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
        return self._item_walk("products", Product, updated_since, search, page_size)

    def iter_items(
        self,
        *,
        updated_since: datetime | None = None,
        search: str | None = None,
        page_size: int = 200,
    ) -> AsyncIterator[Item]:
        return self._item_walk("items", Item, updated_since, search, page_size)

    async def _item_walk(
        self,
        path: str,
        model: type[P],
        updated_since: datetime | None,
        search: str | None,
        page_size: int,
    ) -> AsyncIterator[P]:
        """`updated_at_from` is unconfirmed on these lists and a filter Rackbeat lacks answers
        422: then every row is read and the changed ones kept here, for the client's life."""
        refused = f"{path}?{UPDATED_FILTER}"
        sent: set[str] = set()
        if updated_since is not None and refused not in self.refused_filters:
            try:
                async for row in self._item_pages(
                    path, model, _item_filters(updated_since, search), page_size
                ):
                    sent.add(row.number)
                    yield row
                return
            except ValidationFailed as exc:
                if not _names_updated_filter(exc):
                    raise
                self.refused_filters.add(refused)
                _log.warning(
                    "list filter refused; filtering by updated_at here",
                    endpoint=f"GET /{path}",
                    filter=UPDATED_FILTER,
                    reason=exc.reason,
                )
        async for row in self._item_pages(path, model, _item_filters(None, search), page_size):
            if row.number not in sent and _changed_since(row, updated_since):
                yield row

    def _item_pages(
        self, path: str, model: type[P], params: dict[str, Any], page_size: int
    ) -> AsyncIterator[P]:
        return self._pages(
            path, path, model, params=params, page_size=page_size, identity=lambda p: p.number
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
        heads = [v async for v in self._pages("variations", "variations", VariationHead)]
        return [await self._complete(head) for head in heads]

    async def get_variation(self, variation_id: int) -> Variation:
        head = await self._get_one(f"variations/{variation_id}", "variation", VariationHead)
        return await self._complete(head)

    async def _complete(self, head: VariationHead) -> Variation:
        """Types and options as nested in the record, else read from their sub-resources
        (`/variations/{id}/types[/{t}/options]`), where the real API keeps them."""
        path = f"variations/{head.id}/types"
        heads = head.types
        if heads is None:
            heads = [t async for t in self._pages(path, SUB_LIST_KEYS, VariationTypeHead)]
        types = []
        for vtype in heads:
            options = vtype.options
            if options is None:
                options_path = f"{path}/{vtype.id}/options"
                options = [
                    o async for o in self._pages(options_path, SUB_LIST_KEYS, VariationOption)
                ]
            types.append(VariationType(id=vtype.id, name=vtype.name, options=options))
        return Variation(id=head.id, name=head.name, types=types)

    async def create_variation(self, name: str, types: Mapping[str, list[str]]) -> Variation:
        """Create a variation with its types (e.g. size and colour), each with its options: in
        one call where the API takes them nested, else types and options through their
        sub-resources.

        Not idempotent: a retried create after a 5xx could make two. The caller looks the
        variation up by its (deterministic) name before creating, so a re-run reuses it."""
        body = {
            "name": name,
            "types": [
                {"name": type_name, "options": [{"name": o} for o in options]}
                for type_name, options in types.items()
            ],
        }
        response = await self._request("POST", "variations", json=body, idempotent=False)
        head = self._one(response, "variation", VariationHead, "POST /variations")
        variation = await self._complete(head)
        made = {t.name: t for t in variation.types}
        built = []
        for type_name, options in types.items():
            vtype = made.get(type_name) or await self.add_variation_type(variation.id, type_name)
            have = {o.name for o in vtype.options}
            added = [
                await self.add_variation_option(variation.id, vtype.id, option)
                for option in options
                if option not in have
            ]
            built.append(vtype.model_copy(update={"options": [*vtype.options, *added]}))
        return variation.model_copy(update={"types": built})  # from the answers: no re-read

    async def add_variation_type(self, variation_id: int, name: str) -> VariationType:
        path = f"variations/{variation_id}/types"
        response = await self._request("POST", path, json={"name": name}, idempotent=False)
        created = self._one(response, "variation_type", VariationTypeHead, f"POST /{path}")
        return VariationType(id=created.id, name=created.name, options=created.options or [])

    async def add_variation_option(
        self, variation_id: int, type_id: int, name: str
    ) -> VariationOption:
        path = f"variations/{variation_id}/types/{type_id}/options"
        response = await self._request("POST", path, json={"name": name}, idempotent=False)
        return self._one(response, "variation_option", VariationOption, f"POST /{path}")

    async def variant_stock(
        self, number: str, *, location: int | None = None
    ) -> list[VariantStock]:
        """Stock per variant (optionally one location). The JSON shape is unknown: the rows
        are read wherever `_matrix_rows` finds them, each validated on its own."""
        call = "GET /products/{n}/variation-matrix"
        params = {"location_id": location} if location is not None else None
        body = await self._request(
            "GET", f"products/{item_path(number)}/variation-matrix", params=params
        )
        rows = _matrix_rows(body)
        if rows is None:
            got = type(body).__name__ if not isinstance(body, dict) else f"keys {sorted(body)}"
            expected = "an array of {options or variations, stock_quantity} rows"
            raise ApiError(self.api_name, call, None, f"expected {expected}, got {got}")
        return [row for raw in rows if (row := self._row(VariantStock, raw, call)) is not None]

    # ---------------------------------------------------------------------------- stock

    async def list_locations(self) -> list[Location]:
        return [loc async for loc in self._pages("locations", "locations", Location)]

    async def item_stock(self, number: str) -> list[ItemLocationStock]:
        """Stock per location for one item (`GET /items/{n}/locations`)."""
        path = f"items/{item_path(number)}/locations"
        keys = ("locations", "product_locations")  # the second is the only real list key seen
        return [row async for row in self._pages(path, keys, ItemLocationStock)]

    async def create_inventory_adjustment(
        self, adjustment: NewInventoryAdjustment, *, suppress_webhooks: bool = False
    ) -> InventoryAdjustment | None:
        """Set a stock level: create the adjustment, then book it unless the answer says it is
        booked already (real adjustments stay drafts until `/book`). None when Rackbeat holds
        that level already: it refuses a change of nothing with a 422.

        Both sets of body keys the sources disagree on are sent, so either is understood; the
        level is absolute, so a create and a book may both be retried."""
        call = "POST /inventory-adjustments"
        params = {"suppress_webhooks": "true"} if suppress_webhooks else None
        try:
            body = await self._request(
                "POST", "inventory-adjustments", params=params, json=adjustment_body(adjustment)
            )
        except ValidationFailed as exc:
            if NO_CHANGE in exc.reason:
                return None
            raise
        created = self._any_one(body, ADJUSTMENT_ANSWER_KEYS, InventoryAdjustment, call)
        if created.is_booked is not True:
            await self._book_adjustment(created.id, params)
        return created

    async def _book_adjustment(self, adjustment_id: int, params: Mapping[str, str] | None) -> None:
        path = f"inventory-adjustments/{adjustment_id}/book"
        try:
            await self._request("POST", path, params=params)
        except ValidationFailed as exc:
            if ALREADY_BOOKED not in exc.reason:  # a retried book whose first answer was lost
                raise

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
        params[UPDATED_FILTER] = _rackbeat_time(updated_since)
    if search:
        params["search"] = search
    return params


def _names_updated_filter(exc: ValidationFailed) -> bool:
    """Whether the 422 is about the changed-since filter: its messages name the property
    ("Property 'X' is not filterable"), as `updated_at_from` or maybe `updated_at`."""
    return UPDATED_FILTER.removesuffix("_from") in exc.reason


def _changed_since(row: Product, since: datetime | None) -> bool:
    """Kept when no `since`, no `updated_at` (better read than missed), or changed since; to
    the whole second, as the server filter would see `since`."""
    if since is None or row.updated_at is None:
        return True
    return _as_utc(row.updated_at) >= _as_utc(since).replace(microsecond=0)


def _as_utc(moment: datetime) -> datetime:
    """Naive times are UTC, as the filter is sent."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _rackbeat_time(moment: datetime) -> str:
    """Rackbeat's filter format; aware times are sent as UTC."""
    return _as_utc(moment).strftime("%Y-%m-%d %H:%M:%S")

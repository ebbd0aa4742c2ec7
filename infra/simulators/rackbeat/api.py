"""The `/api` routes. Handlers are thin: parse, call the store, wrap the answer in Rackbeat's
envelope (`{"product": {...}}`, or `{"products": [...], total, pages, limit, page}` with 206).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from infra.simulators.rackbeat import payloads as p
from infra.simulators.rackbeat.records import Adjustment, Order, Product, Variation
from infra.simulators.rackbeat.state import RackbeatState
from infra.simulators.rackbeat.store import Store
from infra.simulators.rackbeat.validation import Invalid, Missing, flag, invalid, timestamp
from infra.simulators.rackbeat.webhooks import webhook_json

T = TypeVar("T")
DEFAULT_LIMIT = 20
MAX_LIMIT = 1000


@dataclass
class Call:
    request: Request
    body: dict[str, Any]
    state: RackbeatState

    @property
    def store(self) -> Store:
        return self.state.store

    @property
    def base(self) -> str:
        return str(self.request.base_url).rstrip("/") + "/api"

    def query(self, name: str) -> str | None:
        return self.request.query_params.get(name)

    def path_int(self, name: str) -> int:
        value: int = self.request.path_params[name]
        return value


Handler = Callable[[Call], Response]


def endpoint(state: RackbeatState, handler: Handler) -> Callable[[Request], Any]:
    """Parse the body, run the handler, then fire (or suppress) the events the call raised."""

    async def run(request: Request) -> Response:
        body = await _json_body(request)
        suppressed = flag(request.query_params.get("suppress_webhooks", "false")) or flag(
            body.get("suppress_webhooks", False)
        )
        try:
            response = handler(Call(request, body, state))
        finally:
            state.bus.publish(state.store.drain(), suppressed=suppressed)
        if state.switches["record_keys"] == "data":
            return _under_data(response)
        return response

    return run


def _under_data(response: Response) -> Response:
    """The `record_keys=data` variant: a record or a list page under `data`, not its own key."""
    if response.status_code >= 300 or not isinstance(response, JSONResponse):
        return response
    body = json.loads(bytes(response.body))
    if not isinstance(body, dict):
        return response
    kind = list if "pages" in body else dict
    keys = [key for key, value in body.items() if isinstance(value, kind)]
    if len(keys) != 1:
        return response
    body["data"] = body.pop(keys[0])
    return JSONResponse(body, response.status_code)


async def _json_body(request: Request) -> dict[str, Any]:
    if request.method in ("GET", "DELETE", "HEAD"):
        return {}
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise invalid("body", "The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise invalid("body", "The request body must be a JSON object.")
    return body


def single(key: str, payload: dict[str, Any], status: int = 200) -> Response:
    return JSONResponse({key: payload}, status)


def listing(call: Call, key: str, records: list[T], to_json: Callable[[T], Any]) -> Response:
    """One page of a list, Rackbeat style: 1-based `page`, `limit` default 20, max 1000, 206."""
    page = _positive_int(call.query("page"), "page", 1)
    limit = _positive_int(call.query("limit"), "limit", DEFAULT_LIMIT)
    if limit > MAX_LIMIT:
        raise invalid("limit", f"The limit may not be greater than {MAX_LIMIT}.")
    total = len(records)
    chunk = records[(page - 1) * limit : page * limit]
    return JSONResponse(
        {
            key: [to_json(r) for r in chunk],
            "total": total,
            "pages": max(1, math.ceil(total / limit)),
            "limit": limit,
            "page": page,
        },
        206,
    )


def _positive_int(raw: str | None, name: str, default: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid(name, f"The {name} must be an integer.") from None
    if value < 1:
        raise invalid(name, f"The {name} must be at least 1.")
    return value


def resolve_number(call: Call, name: str = "number") -> Product:
    """Item numbers arrive single- or double-URL-encoded (the docs advise double for `/?+ `).

    The server has decoded once; try that, then one more decode.
    """
    raw: str = call.request.path_params[name]
    store = call.store
    if raw in store.products:
        return store.products[raw]
    decoded = unquote(raw)
    if decoded in store.products:
        return store.products[decoded]
    raise Missing(f"Product {decoded} not found.")


# --------------------------------------------------------------------------------- filters


def _updated_window(call: Call) -> tuple[datetime | None, datetime | None]:
    start, end = call.query("updated_at_from"), call.query("updated_at_to")
    return (
        timestamp(start, "updated_at_from") if start else None,
        timestamp(end, "updated_at_to") if end else None,
    )


def _in_window(value: datetime, window: tuple[datetime | None, datetime | None]) -> bool:
    start, end = window
    return (start is None or value >= start) and (end is None or value <= end)


def _sorted(call: Call, records: Iterable[T], default: str, allowed: set[str]) -> list[T]:
    order_by = call.query("order_by") or default
    if order_by not in allowed:
        raise invalid("order_by", "The selected order by is invalid.")
    direction = (call.query("order_direction") or "ASC").upper()
    if direction not in ("ASC", "DESC"):
        raise invalid("order_direction", "The selected order direction is invalid.")
    return sorted(records, key=lambda r: getattr(r, order_by), reverse=direction == "DESC")


def _bool_filter(call: Call, name: str) -> bool | None:
    raw = call.query(name)
    return None if raw is None or raw == "" else flag(raw)


def _item_updated_window(call: Call) -> tuple[datetime | None, datetime | None]:
    """`updated_at_from`/`_to` on `/products` and `/items`, or a 422 per `item_list_filters`."""
    if call.state.switches["item_list_filters"] == "refused":
        for name in ("updated_at_from", "updated_at_to"):
            if call.query(name):
                raise invalid(name, f"Property '{name}' is not filterable")
    return _updated_window(call)


def filtered_products(call: Call) -> list[Product]:
    window = _item_updated_window(call)
    barred = _bool_filter(call, "is_barred")
    search = (call.query("search") or "").lower()
    exact = call.query("simple_filter[number]")
    ean = call.query("simple_filter[ean]") or call.query("simple_filter[barcode]")
    rows = [
        product
        for product in call.store.products.values()
        if _in_window(product.updated_at, window)
        and (barred is None or product.is_barred == barred)
        and (not search or search in product.number.lower() or search in product.name.lower())
        and (exact is None or product.number == exact)
        and (ean is None or product.barcode == ean)
    ]
    return _sorted(call, rows, "number", {"number", "name", "id", "updated_at", "created_at"})


def _created_window(call: Call) -> tuple[datetime | None, datetime | None]:
    start, end = call.query("created_at_from"), call.query("created_at_to")
    return (
        timestamp(start, "created_at_from") if start else None,
        timestamp(end, "created_at_to") if end else None,
    )


def _order_search(call: Call) -> str:
    """The `search` filter as the `order_search` switch has it (see the README)."""
    search = (call.query("search") or "").lower()
    mode = call.state.switches["order_search"]
    if search and mode == "not_filterable":
        raise invalid("search", "Property 'search' is not filterable")
    return "" if mode == "ignored" else search


def filtered_orders(call: Call) -> list[Order]:
    window = _updated_window(call)
    created = _created_window(call)
    flags = {name: _bool_filter(call, name) for name in ("is_booked", "is_shipped", "is_cancelled")}
    search = _order_search(call)
    narrow = call.state.switches["order_search"] == "number_or_customer"
    heading = call.query("heading")
    exact = call.query("simple_filter[number]")
    customer = call.query("customer_number")
    field_eq = {
        int(key[len("field_eq[") : -1]): value
        for key, value in call.request.query_params.items()
        if key.startswith("field_eq[") and key.endswith("]") and key[9:-1].isdigit()
    }
    rows = [
        order
        for order in call.store.orders.values()
        if _in_window(order.updated_at, window)
        and _in_window(order.created_at, created)
        and all(want is None or getattr(order, name) == want for name, want in flags.items())
        and (not search or _order_matches(call, order, search, narrow=narrow))
        and (heading is None or order.heading == heading)
        and (exact is None or str(order.number) == exact)
        and (customer is None or str(order.customer_number) == customer)
        and all(str(order.custom_fields.get(k)) == v for k, v in field_eq.items())
    ]
    return _sorted(call, rows, "number", {"number", "updated_at", "created_at"})


def _order_matches(call: Call, order: Order, needle: str, *, narrow: bool) -> bool:
    haystack: tuple[str | None, ...]
    if narrow:
        customer = call.store.customers.get(order.customer_number)
        haystack = (str(order.number), customer.company_name if customer else None)
    else:
        haystack = (str(order.number), order.heading, order.their_reference, order.our_reference)
    return any(needle in value.lower() for value in haystack if value)


# --------------------------------------------------------------------------------- handlers


def get_self(call: Call) -> Response:
    return JSONResponse(
        {"user_account": {"id": call.state.config.account_id, "name": "Rackbeat simulator"}}
    )


def list_products(call: Call) -> Response:
    return listing(
        call,
        "products",
        filtered_products(call),
        lambda r: p.product_json(r, call.store, call.base),
    )


def list_items(call: Call) -> Response:
    return listing(
        call, "items", filtered_products(call), lambda r: p.product_json(r, call.store, call.base)
    )


def get_product(call: Call) -> Response:
    return single("product", p.product_json(resolve_number(call), call.store, call.base))


def get_item(call: Call) -> Response:
    return single("item", p.product_json(resolve_number(call), call.store, call.base))


def create_product(call: Call) -> Response:
    product = call.store.create_product(call.body)
    return single("product", p.product_json(product, call.store, call.base), 201)


def update_product(call: Call) -> Response:
    product = call.store.update_product(resolve_number(call).number, call.body)
    return single("product", p.product_json(product, call.store, call.base))


def delete_product(call: Call) -> Response:
    call.store.delete_product(resolve_number(call).number)
    return Response(status_code=204)


def variation_matrix(call: Call) -> Response:
    product = resolve_number(call)
    raw = call.query("location_id")
    location = _positive_int(raw, "location_id", 0) if raw else None
    if location is not None and location not in call.store.locations:
        raise invalid("location_id", "The selected location id is invalid.")
    matrix = p.variation_matrix_json(call.store, product, location)
    shape = call.state.switches["variation_matrix_shape"]
    if shape == "rows":
        rows = [
            {("variations" if key == "options" else key): value for key, value in row.items()}
            for row in matrix["variants"]
        ]
        return JSONResponse(rows)
    if shape == "html":
        return Response(p.variation_matrix_html(matrix), media_type="text/html")
    return single("variation_matrix", matrix)


def item_locations(call: Call) -> Response:
    """`/items/{n}/locations` in the `item_location_rows` switch's shape (README)."""
    shape = call.state.switches["item_location_rows"]
    key = "product_locations" if shape == "flat_product_locations" else "locations"
    return _location_rows(call, key, flat=shape != "nested")


def product_locations(call: Call) -> Response:
    """`/products/{n}/locations`: flat rows under `product_locations`, as an integrator reads."""
    return _location_rows(call, "product_locations", flat=True)


def _location_rows(call: Call, key: str, *, flat: bool) -> Response:
    product = resolve_number(call)
    rows = sorted(call.store.locations.values(), key=lambda loc: loc.number)
    return listing(
        call, key, rows, lambda loc: p.item_location_json(call.store, product.number, loc, flat)
    )


def list_groups(call: Call) -> Response:
    rows = sorted(call.store.groups.values(), key=lambda g: g.number)
    return listing(call, "product_groups", rows, lambda g: p.group_json(g, call.base))


def list_locations(call: Call) -> Response:
    rows = sorted(call.store.locations.values(), key=lambda loc: loc.number)
    return listing(call, "locations", rows, lambda r: p.location_json(r, call.store, call.base))


def get_location(call: Call) -> Response:
    location = call.store.locations.get(call.path_int("number"))
    if location is None:
        raise Missing("Location not found.")
    return single("location", p.location_json(location, call.store, call.base))


def list_variations(call: Call) -> Response:
    rows = sorted(call.store.variations.values(), key=lambda v: v.id)
    return listing(call, "variations", rows, lambda v: _variation_json(call, v))


def get_variation(call: Call) -> Response:
    variation = call.store.variation(call.path_int("id"))
    return single("variation", _variation_json(call, variation))


def create_variation(call: Call) -> Response:
    variation = call.store.create_variation(call.body, nested=_nested_variations(call))
    return single("variation", _variation_json(call, variation), 201)


def list_variation_types(call: Call) -> Response:
    rows = call.store.variation(call.path_int("id")).types
    return listing(call, "variation_types", rows, lambda t: {"id": t.id, "name": t.name})


def add_variation_type(call: Call) -> Response:
    vtype = call.store.add_variation_type(call.path_int("id"), call.body)
    return single("variation_type", {"id": vtype.id, "name": vtype.name}, 201)


def list_variation_options(call: Call) -> Response:
    rows = call.store.variation_type(call.path_int("id"), call.path_int("type_id")).options
    return listing(call, "variation_options", rows, lambda o: {"id": o.id, "name": o.name})


def add_variation_option(call: Call) -> Response:
    option = call.store.add_variation_option(
        call.path_int("id"), call.path_int("type_id"), call.body
    )
    return single("variation_option", {"id": option.id, "name": option.name}, 201)


def _nested_variations(call: Call) -> bool:
    return call.state.switches["variation_resources"] == "nested"


def _variation_json(call: Call, variation: Variation) -> dict[str, Any]:
    if _nested_variations(call):
        return p.variation_json(variation)
    return {"id": variation.id, "name": variation.name}


def list_adjustments(call: Call) -> Response:
    rows = sorted(call.store.adjustments.values(), key=lambda a: a.id)
    key, to_json = _adjustment_shape(call)
    return listing(call, f"{key}s", rows, lambda a: to_json(a, call.store))


def create_adjustment(call: Call) -> Response:
    adjustment = call.store.adjust(call.body)
    key, to_json = _adjustment_shape(call)
    return single(key, to_json(adjustment, call.store), 201)


def book_adjustment(call: Call) -> Response:
    adjustment = call.store.book_adjustment(call.path_int("id"))
    key, to_json = _adjustment_shape(call)
    return single(key, to_json(adjustment, call.store))


def _adjustment_shape(call: Call) -> tuple[str, Callable[[Adjustment, Store], dict[str, Any]]]:
    if call.store.settings.adjustment_body == "legacy":
        return "inventory_adjustment", p.adjustment_json
    return "inventory_regulation", p.regulation_json


def list_customers(call: Call) -> Response:
    rows = sorted(call.store.customers.values(), key=lambda c: c.number)
    return listing(call, "customers", rows, lambda c: p.customer_json(c, call.base))


def get_customer(call: Call) -> Response:
    return single(
        "customer", p.customer_json(call.store.customer(call.path_int("number")), call.base)
    )


def create_customer(call: Call) -> Response:
    return single(
        "customer", p.customer_json(call.store.create_customer(call.body), call.base), 201
    )


def list_orders(call: Call) -> Response:
    return listing(
        call, "orders", filtered_orders(call), lambda o: p.order_json(call.store, o, call.base)
    )


def get_order(call: Call) -> Response:
    order = call.store.order(call.path_int("number"))
    return single("order", p.order_json(call.store, order, call.base))


def _order_body(call: Call) -> dict[str, Any]:
    """The create body as the `order_their_reference` switch lets it through."""
    if call.state.switches["order_their_reference"] == "dropped":
        return {k: v for k, v in call.body.items() if k != "their_reference"}
    return call.body


def create_booked_order(call: Call) -> Response:
    booked = call.state.switches["order_create_books"] == "booked"
    order = call.store.create_order(_order_body(call), booked=booked)
    return single("order", p.order_json(call.store, order, call.base), 201)


def create_draft_order(call: Call) -> Response:
    order = call.store.create_order(_order_body(call), booked=False)
    return single("order", p.order_json(call.store, order, call.base), 201)


def book_order(call: Call) -> Response:
    order = call.store.book_order(call.path_int("number"))
    return single("order", p.order_json(call.store, order, call.base))


def ship_order(call: Call) -> Response:
    shipment = call.store.ship_order(call.path_int("number"))
    return single("order_shipment", p.shipment_json(call.store, shipment), 201)


def cancel_order(call: Call) -> Response:
    if call.state.switches["order_cancel"] == "absent":
        return JSONResponse({"message": "Not Found"}, 404)  # what an unknown route answers
    order = call.store.cancel_order(call.path_int("number"))
    return single("order", p.order_json(call.store, order, call.base))


def delete_order(call: Call) -> Response:
    call.store.delete_order(call.path_int("number"))
    return Response(status_code=204)


def put_order_fields(call: Call) -> Response:
    order = call.store.set_order_fields(call.path_int("number"), call.body)
    return single("order", p.order_json(call.store, order, call.base))


def list_webhooks(call: Call) -> Response:
    rows = sorted(call.state.bus.hooks.values(), key=lambda h: h.id)
    return listing(call, "webhooks", rows, lambda h: webhook_json(h, with_token=False))


def create_webhook(call: Call) -> Response:
    hook, created = call.state.bus.upsert(call.body)
    return single("webhook", webhook_json(hook, with_token=created), 201 if created else 200)


def _hook(call: Call) -> Any:
    hook = call.state.bus.hooks.get(call.path_int("id"))
    if hook is None:
        raise Missing("Webhook not found.")
    return hook


def get_webhook(call: Call) -> Response:
    return single("webhook", webhook_json(_hook(call), with_token=False))


def update_webhook(call: Call) -> Response:
    hook = call.state.bus.update(_hook(call), call.body)
    return single("webhook", webhook_json(hook, with_token=False))


def delete_webhook(call: Call) -> Response:
    del call.state.bus.hooks[_hook(call).id]
    return Response(status_code=204)


ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/self", get_self),
    ("GET", "/products", list_products),
    ("POST", "/products", create_product),
    ("GET", "/products/{number:path}/variation-matrix", variation_matrix),
    ("GET", "/products/{number:path}/locations", product_locations),
    ("GET", "/products/{number:path}", get_product),
    ("PUT", "/products/{number:path}", update_product),
    ("DELETE", "/products/{number:path}", delete_product),
    ("GET", "/items", list_items),
    ("GET", "/items/{number:path}/locations", item_locations),
    ("GET", "/items/{number:path}", get_item),
    ("GET", "/product-groups", list_groups),
    ("GET", "/locations", list_locations),
    ("GET", "/locations/{number:int}", get_location),
    ("GET", "/variations", list_variations),
    ("POST", "/variations", create_variation),
    ("GET", "/variations/{id:int}", get_variation),
    ("GET", "/variations/{id:int}/types", list_variation_types),
    ("POST", "/variations/{id:int}/types", add_variation_type),
    ("GET", "/variations/{id:int}/types/{type_id:int}/options", list_variation_options),
    ("POST", "/variations/{id:int}/types/{type_id:int}/options", add_variation_option),
    ("GET", "/inventory-adjustments", list_adjustments),
    ("POST", "/inventory-adjustments", create_adjustment),
    ("POST", "/inventory-adjustments/{id:int}/book", book_adjustment),
    ("GET", "/customers", list_customers),
    ("POST", "/customers", create_customer),
    ("GET", "/customers/{number:int}", get_customer),
    ("GET", "/orders", list_orders),
    ("POST", "/orders", create_booked_order),
    ("POST", "/orders/drafts", create_draft_order),
    ("GET", "/orders/{number:int}", get_order),
    ("DELETE", "/orders/{number:int}", delete_order),
    ("POST", "/orders/{number:int}/book", book_order),
    ("POST", "/orders/{number:int}/create-shipment", ship_order),
    ("POST", "/orders/{number:int}/cancel", cancel_order),
    ("PUT", "/orders/{number:int}/fields", put_order_fields),
    ("GET", "/webhooks", list_webhooks),
    ("POST", "/webhooks", create_webhook),
    ("GET", "/webhooks/{id:int}", get_webhook),
    ("PUT", "/webhooks/{id:int}", update_webhook),
    ("DELETE", "/webhooks/{id:int}", delete_webhook),
]


def api_routes(state: RackbeatState, prefix: str = "/api") -> list[Route]:
    """Routes with the same path share one Route so a wrong method answers 405, not 404."""
    by_path: dict[str, dict[str, Handler]] = {}
    for method, path, handler in ROUTES:
        by_path.setdefault(path, {})[method] = handler
    routes = []
    for path, handlers in by_path.items():
        routes.append(Route(f"{prefix}{path}", _dispatch(state, handlers), methods=list(handlers)))
    return routes


def _dispatch(state: RackbeatState, handlers: dict[str, Handler]) -> Callable[[Request], Any]:
    wrapped = {method: endpoint(state, handler) for method, handler in handlers.items()}

    async def run(request: Request) -> Response:
        method = "GET" if request.method == "HEAD" else request.method
        response: Response = await wrapped[method](request)
        return response

    return run


def error_response(exc: Invalid | Missing) -> JSONResponse:
    if isinstance(exc, Invalid):
        return JSONResponse({"message": "The given data was invalid.", "errors": exc.errors}, 422)
    return JSONResponse({"message": str(exc)}, 404)

"""The Shopbox API v3 simulator as a Starlette app: auth, envelopes, pagination and routes.

Handlers are thin: they parse, call `Shop`, and shape the answer with `payloads`.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import parse_qs

from pydantic import BaseModel, ValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from infra.simulators.common import FaultMiddleware, control_routes
from infra.simulators.shopbox import payloads
from infra.simulators.shopbox.bodies import BasketBody, InventoryBody, ProductBody, field_errors
from infra.simulators.shopbox.control import shopbox_control_routes
from infra.simulators.shopbox.shop import Basket, InvalidProblem, NotFoundProblem, Product, Shop
from infra.simulators.shopbox.state import ShopboxConfig, ShopboxState

API = "/api/v3"
AUTH_PARAMS = ("api-token", "accessToken", "client")
B = TypeVar("B", bound=BaseModel)
T = TypeVar("T")


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": {"message": message}}, status)


def invalid(errors: dict[str, list[str]]) -> JSONResponse:
    return JSONResponse({"message": "The given data was invalid.", "errors": errors}, 422)


def _query(scope: Scope) -> dict[str, str]:
    parsed = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    return {key: values[-1] for key, values in parsed.items()}


def token_of(scope: Scope) -> str:
    query = _query(scope)
    return query.get("api-token") or query.get("accessToken") or "anonymous"


class AuthMiddleware:
    """Query-param auth on /api/v3: `api-token=<t>`, or `accessToken=<t>&client=<client uid>`."""

    def __init__(self, app: ASGIApp, state: ShopboxState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] != "http"
            or not path.startswith(API)
            or path == f"{API}/authenticate/credentials"
        ):
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(_query(scope))
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _refusal(self, query: dict[str, str]) -> Response | None:
        tokens = self.state.config.tokens
        if query.get("api-token") in tokens:
            return None
        if query.get("accessToken") in tokens:
            if query.get("client") != str(self.state.client_uid):
                return error(403, "You do not have access to this client")
            return None
        return error(401, "Unauthenticated. The token is missing, invalid or for another env.")


async def json_body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw or b"{}")
    except ValueError as exc:
        raise InvalidProblem({"body": [f"Malformed JSON: {exc}"]}) from None


async def parse(request: Request, model: type[B]) -> B:
    return model.model_validate(await json_body(request))


def int_param(request: Request, name: str, default: int | None = None) -> int | None:
    value = request.query_params.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise InvalidProblem({name: [f"The {name} must be an integer."]}) from None


def paginate(
    request: Request, items: Sequence[T], default_per_page: int, size_params: Sequence[str]
) -> tuple[Sequence[T], dict[str, Any]]:
    """Fractal-style page: `page` (1-based) and a page size (`per-page`; -1 = everything)."""
    page = int_param(request, "page", 1) or 1
    per_page = default_per_page
    for name in size_params:
        per_page = int_param(request, name, per_page) or per_page
    if page < 1 or per_page < -1 or per_page == 0:
        raise InvalidProblem({"page": ["page must be >= 1 and per-page >= 1 or -1"]})
    if per_page == -1:
        per_page = max(1, len(items))
    total_pages = max(1, -(-len(items) // per_page))
    chunk = items[(page - 1) * per_page : page * per_page]
    links: dict[str, str] = {}
    if page < total_pages:
        links["next"] = _page_url(request, page + 1)
    if page > 1:
        links["previous"] = _page_url(request, page - 1)
    pagination = {
        "total": len(items),
        "count": len(chunk),
        "per_page": per_page,
        "current_page": page,
        "total_pages": total_pages,
        "links": links,
    }
    return chunk, {"pagination": pagination}


def _page_url(request: Request, page: int) -> str:
    """Link to another page; auth params are left out so links never carry a token."""
    params = {k: v for k, v in request.query_params.items() if k not in AUTH_PARAMS}
    params["page"] = str(page)
    return str(request.url.replace_query_params(**params))


def create_app(config: ShopboxConfig | None = None) -> tuple[ASGIApp, ShopboxState]:
    """Build the simulator. Returns the ASGI app (faults and auth wrapped) and its state."""
    state = ShopboxState.from_config(config or ShopboxConfig())

    def shop_of() -> Shop:
        return state.shop

    def listed(
        request: Request,
        items: Sequence[Any],
        size_params: Sequence[str],
        render: Callable[[Any], Any] | None = None,
    ) -> Response:
        """One page of `items`. `render` turns only that page's items into JSON: a walk through
        thousands of baskets must not render every basket for every page it reads."""
        chunk, meta = paginate(request, items, state.config.default_per_page, size_params)
        rows = [render(item) for item in chunk] if render else list(chunk)
        return JSONResponse({"data": rows, "meta": meta})

    async def authenticate(request: Request) -> Response:
        body = await json_body(request)
        if (body.get("username"), body.get("password")) != (
            state.config.username,
            state.config.password,
        ):
            return error(401, "Invalid credentials")
        return JSONResponse(
            {
                "accessToken": state.config.tokens[0],
                "account": {"uid": 1},
                "client": state.client_uid,
            }
        )

    def product_view(shop: Shop, product: Product) -> dict[str, Any]:
        body = payloads.product_json(shop, product)
        return payloads.with_updated_at(body, state.switches["updated_at_format"])

    async def list_products(request: Request) -> Response:
        shop = shop_of()
        filters = state.switches["product_filters"] == "honoured"
        since = int_param(request, "updated_since") if filters else None
        sku = request.query_params.get("sku_code") if filters else None
        products = [
            p
            for p in shop.products.values()
            if (since is None or p.updated_at >= since) and (sku is None or p.sku_code == sku)
        ]
        rows = [product_view(shop, p) for p in products]
        return listed(request, rows, ["per-page"])

    async def get_product(request: Request) -> Response:
        shop = shop_of()
        return JSONResponse(product_view(shop, shop.product(request.path_params["uid"])))

    async def upsert_product(request: Request) -> Response:
        shop = shop_of()
        replace = state.switches["variant_update"] == "replace"
        product = shop.upsert_product(await parse(request, ProductBody), replace_variants=replace)
        return JSONResponse(product_view(shop, product))

    async def list_tags(request: Request) -> Response:
        rows = [{"uid": uid, "name": name} for uid, name in shop_of().tags.items()]
        return listed(request, rows, ["per-page", "per_page"])

    async def list_payment_types(request: Request) -> Response:
        rows = [{"uid": uid, "name": name} for uid, name in shop_of().payment_types.items()]
        return listed(request, rows, ["per-page"])

    async def list_branches(request: Request) -> Response:
        shop = shop_of()
        rows = [payloads.branch_json(shop, b, with_registers=False) for b in shop.branches.values()]
        return listed(request, rows, ["per-page"])

    async def get_branch(request: Request) -> Response:
        shop = shop_of()
        branch = shop.branch(request.path_params["uid"])
        return JSONResponse(payloads.branch_json(shop, branch, with_registers=True))

    async def get_register(request: Request) -> Response:
        return JSONResponse(payloads.register_json(shop_of().register(request.path_params["uid"])))

    async def list_inventories(request: Request) -> Response:
        shop = shop_of()
        branch = int_param(request, "branch")
        if branch is None:
            raise InvalidProblem({"branch": ["The branch field is required."]})
        shop.branch(branch)
        rows = [payloads.inventory_row_json(shop, key) for key in shop.stock_keys(branch)]
        return listed(request, rows, ["num_per_page", "per-page"])

    async def set_inventory(request: Request) -> Response:
        shop = shop_of()
        """Answers the row written (`full`), `{}` (`minimal`) or 204 with no body (`empty`),
        per `inventory_write_answer`: the real answer's shape is unknown."""
        key = shop.set_stock(await parse(request, InventoryBody))
        answer = state.switches["inventory_write_answer"]
        if answer == "empty":
            return Response(status_code=204)
        return JSONResponse(payloads.inventory_row_json(shop, key) if answer == "full" else {})

    def basket_view(shop: Shop, basket: Basket, *, listed: bool) -> dict[str, Any]:
        """A basket as the switches say reads show it (branch, lines on list rows)."""
        body = payloads.basket_json(shop, basket, lines_key=state.config.lines_key)
        if state.switches["basket_branch"] == "absent":
            body.pop("branch")
            body.pop("branch0")
        if listed and state.switches["basket_list_lines"] == "detail_only":
            body.pop(state.config.lines_key)
        body = payloads.with_updated_at(body, state.switches["updated_at_format"])
        return payloads.with_time_key(body, state.switches["basket_time_key"])

    async def list_baskets(request: Request) -> Response:
        """Newest first (or oldest, per `basket_list_order`). `since`/`from` filter on
        creation_time, `updated_since` on updated_at, unless `basket_since` ignores them."""
        shop = shop_of()
        filters = state.switches["basket_since"] == "honoured"
        since = int_param(request, "since", int_param(request, "from")) if filters else None
        updated_since = int_param(request, "updated_since") if filters else None
        baskets = sorted(
            (
                b
                for b in shop.baskets.values()
                if (since is None or b.creation_time >= since)
                and (updated_since is None or b.updated_at >= updated_since)
            ),
            key=lambda b: (b.creation_time, b.uid),
            reverse=state.switches["basket_list_order"] == "newest_first",
        )
        return listed(request, baskets, ["per-page"], lambda b: basket_view(shop, b, listed=True))

    async def get_basket(request: Request) -> Response:
        shop = shop_of()
        basket = shop.basket(request.path_params["uid"])
        return JSONResponse(basket_view(shop, basket, listed=False))

    async def create_basket(request: Request) -> Response:
        shop = shop_of()
        basket = shop.create_basket(await parse(request, BasketBody))
        state.notify("basket.created", basket)
        body = payloads.basket_json(shop, basket, lines_key=state.config.lines_key)
        return JSONResponse(body, 201)

    async def cancel_basket(request: Request) -> Response:
        shop = shop_of()
        basket = shop.cancel_basket(request.path_params["uid"])
        state.notify("basket.canceled", basket)
        return JSONResponse(payloads.basket_json(shop, basket, lines_key=state.config.lines_key))

    api_routes = [
        Route(f"{API}/authenticate/credentials", authenticate, methods=["POST"]),
        Route(f"{API}/products", list_products, methods=["GET"]),
        Route(f"{API}/products/create-or-update", upsert_product, methods=["POST"]),
        Route(f"{API}/products/{{uid:int}}", get_product, methods=["GET"]),
        Route(f"{API}/tags", list_tags, methods=["GET"]),
        Route(f"{API}/payment-types", list_payment_types, methods=["GET"]),
        Route(f"{API}/branches", list_branches, methods=["GET"]),
        Route(f"{API}/branches/{{uid:int}}", get_branch, methods=["GET"]),
        Route(f"{API}/cash-registers/{{uid:int}}", get_register, methods=["GET"]),
        Route(f"{API}/product-inventories", list_inventories, methods=["GET"]),
        Route(f"{API}/product-inventories", set_inventory, methods=["POST"]),
        Route(f"{API}/baskets", list_baskets, methods=["GET"]),
        Route(f"{API}/baskets", create_basket, methods=["POST"]),
        Route(f"{API}/baskets/{{uid:int}}", get_basket, methods=["GET"]),
        Route(f"{API}/baskets/{{uid:int}}/cancel", cancel_basket, methods=["PUT"]),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        if state.dispatcher is not None:
            await state.dispatcher.aclose()

    app = Starlette(
        routes=[
            *api_routes,
            *control_routes(state, state.reset, lambda: state.config.faults.model_copy()),
            *shopbox_control_routes(state),
        ],
        exception_handlers={
            NotFoundProblem: _problem,
            InvalidProblem: _problem,
            ValidationError: _problem,
            HTTPException: _problem,
        },
        lifespan=lifespan,
    )
    wrapped = FaultMiddleware(AuthMiddleware(app, state), state, token_of)
    return wrapped, state


async def _problem(_: Request, exc: Exception) -> Response:
    """Error bodies: `{"error":{"message"}}`, and Laravel-style `errors` on 422."""
    if isinstance(exc, NotFoundProblem):
        return error(404, exc.message)
    if isinstance(exc, InvalidProblem):
        return invalid(exc.errors)
    if isinstance(exc, ValidationError):
        return invalid(field_errors(exc))
    if isinstance(exc, HTTPException):
        return error(exc.status_code, exc.detail)
    raise exc


__all__ = ["Shop", "ShopboxConfig", "ShopboxState", "create_app"]

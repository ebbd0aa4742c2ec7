"""Shopbox-specific control surface under `/_control`: what a shop assistant, a backoffice user
or a test does to the shop (ring up sales, refund, cancel, edit products, set stock), plus the
push webhook switch. Never subject to faults or auth.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from infra.simulators.common import CONTROL_PREFIX
from infra.simulators.shopbox import payloads
from infra.simulators.shopbox.bodies import (
    BasketBody,
    BasketItemBody,
    InventoryBody,
    ProductBody,
    field_errors,
)
from infra.simulators.shopbox.shop import InvalidProblem, Product, Shop, Variance
from infra.simulators.shopbox.state import DEMO_SHOP, load_fixture

if TYPE_CHECKING:
    from infra.simulators.shopbox.state import ShopboxState


class _Control(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ItemRef(_Control):
    """A product or variant, by SKU or by uid."""

    sku: str | None = None
    product: int | None = None
    product_variance: int | None = None


class SaleLine(ItemRef):
    quantity: float = 1
    selling_price: int | None = Field(None, ge=0, description="unit øre incl. VAT")
    discount: float = Field(0, ge=0, le=100)


class SaleRequest(_Control):
    branch: int | str = Field(description="branch uid or name")
    cash_register: int | None = None
    lines: list[SaleLine] = Field(min_length=1)
    discount_margin: float = 0
    creation_time: int | None = None
    external_id: str | None = None
    payment_type: int | None = None


class SalesRequest(_Control):
    sales: list[SaleRequest] = Field(min_length=1)


class RefundRequest(_Control):
    basket: int
    lines: list[SaleLine] | None = None


class StockRequest(ItemRef):
    branch: int | str
    quantity: float


class WebhookRequest(_Control):
    url: str | None
    secret: str | None = None


class IdleRequest(_Control):
    timeout: float = 10.0


def resolve(shop: Shop, ref: ItemRef, where: str) -> tuple[Product, Variance | None]:
    """SKU lookups must hit exactly one product or variant; duplicates are refused, not guessed."""
    if ref.sku is not None:
        hits = shop.products_by_sku(ref.sku)
        if len(hits) != 1:
            raise InvalidProblem({f"{where}.sku": [f"SKU {ref.sku!r} matches {len(hits)} items"]})
        return hits[0]
    if ref.product is None:
        raise InvalidProblem({where: ["Give sku or product"]})
    product = shop.product(ref.product)
    variance = None
    if ref.product_variance is not None:
        variance = product.variances.get(ref.product_variance)
        if variance is None:
            raise InvalidProblem({f"{where}.product_variance": ["Not a variance of the product"]})
    return product, variance


def resolve_branch(shop: Shop, branch: int | str) -> int:
    for candidate in shop.branches.values():
        if branch in (candidate.uid, candidate.name, str(candidate.uid)):
            return candidate.uid
    raise InvalidProblem({"branch": [f"Unknown branch {branch!r}"]})


def sale_body(shop: Shop, sale: SaleRequest) -> BasketBody:
    branch = shop.branch(resolve_branch(shop, sale.branch))
    register = sale.cash_register or (branch.cash_registers or [0])[0]
    items = []
    for index, line in enumerate(sale.lines):
        product, variance = resolve(shop, line, f"lines.{index}")
        items.append(
            BasketItemBody(
                product=product.uid,
                product_variance=variance.uid if variance else None,
                quantity=line.quantity,
                selling_price=line.selling_price,
                discount=line.discount,
            )
        )
    return BasketBody(
        cash_register=register,
        basket_items=items,
        discount_margin=sale.discount_margin,
        creation_time=sale.creation_time,
        external_id=sale.external_id,
        type=sale.payment_type or (min(shop.payment_types) if shop.payment_types else None),
    )


def sale_bodies(shop: Shop, sales: list[SaleRequest]) -> list[BasketBody]:
    """Every sale of a batch checked before any is rung up; errors name `sales.<i>.<field>`."""
    bodies = []
    for index, sale in enumerate(sales):
        try:
            bodies.append(sale_body(shop, sale))
        except InvalidProblem as exc:
            raise InvalidProblem({f"sales.{index}.{k}": v for k, v in exc.errors.items()}) from None
        except ValidationError as exc:
            errors = field_errors(exc)
            raise InvalidProblem({f"sales.{index}.{k}": v for k, v in errors.items()}) from None
    return bodies


async def _json(request: Request) -> Any:
    try:
        return json.loads(await request.body() or b"{}")
    except ValueError as exc:
        raise InvalidProblem({"body": [f"Malformed JSON: {exc}"]}) from None


def shopbox_control_routes(state: ShopboxState) -> list[Route]:
    def basket_response(basket_uid: int, status: int = 200) -> Response:
        shop = state.shop
        body = payloads.basket_json(shop, shop.basket(basket_uid), lines_key=state.config.lines_key)
        return JSONResponse(body, status)

    async def seed(request: Request) -> Response:
        """Body: a fixture (demo_shop.json format) or {"fixture": "demo_shop"}."""
        body = await _json(request)
        fixture = load_fixture(DEMO_SHOP) if body.get("fixture") == "demo_shop" else body
        state.seed = fixture
        state.shop.load(fixture or {})
        return JSONResponse(summary())

    async def sale(request: Request) -> Response:
        basket = state.shop.create_basket(
            sale_body(state.shop, SaleRequest.model_validate(await _json(request)))
        )
        state.notify("basket.created", basket)
        return basket_response(basket.uid, 201)

    async def sales(request: Request) -> Response:
        """Many sales in one call, so a load generator costs one request per batch, not per
        sale; each basket is pushed as `/sale` pushes it."""
        ask = SalesRequest.model_validate(await _json(request))
        baskets = [state.shop.create_basket(b) for b in sale_bodies(state.shop, ask.sales)]
        for basket in baskets:
            state.notify("basket.created", basket)
        lines_key = state.config.lines_key
        body = [payloads.basket_json(state.shop, b, lines_key=lines_key) for b in baskets]
        return JSONResponse({"baskets": body}, 201)

    async def refund(request: Request) -> Response:
        ask = RefundRequest.model_validate(await _json(request))
        lines = None
        if ask.lines:
            lines = []
            for index, line in enumerate(ask.lines):
                product, variance = resolve(state.shop, line, f"lines.{index}")
                lines.append((product.uid, variance.uid if variance else None, line.quantity))
        basket = state.shop.create_basket(state.shop.refund_body(ask.basket, lines))
        state.notify("basket.created", basket)
        return basket_response(basket.uid, 201)

    async def cancel(request: Request) -> Response:
        basket = state.shop.cancel_basket(int(request.path_params["uid"]))
        state.notify("basket.canceled", basket)
        return basket_response(basket.uid)

    async def stock(request: Request) -> Response:
        ask = StockRequest.model_validate(await _json(request))
        product, variance = resolve(state.shop, ask, "item")
        key = state.shop.set_stock(
            InventoryBody(
                branch=resolve_branch(state.shop, ask.branch),
                product=product.uid,
                product_variance=variance.uid if variance else None,
                quantity=ask.quantity,
                note="set in backoffice",
            )
        )
        return JSONResponse(payloads.inventory_row_json(state.shop, key))

    async def products(request: Request) -> Response:
        """Backoffice create/edit: uid, or an unambiguous SKU, picks the product to edit."""
        raw = await _json(request)
        body = ProductBody.model_validate(raw)
        sku = body.sku_code
        if not body.uid and sku:
            hits = [p for p, v in state.shop.products_by_sku(sku) if v is None]
            if len(hits) == 1:
                body = body.model_copy(update={"uid": hits[0].uid})
        product = state.shop.upsert_product(body)
        return JSONResponse(payloads.product_json(state.shop, product))

    async def webhook(request: Request) -> Response:
        ask = WebhookRequest.model_validate(await _json(request))
        state.webhook_url = ask.url
        if ask.secret is not None:
            state.webhook_secret = ask.secret
        return JSONResponse({"url": state.webhook_url, "enabled": bool(state.webhook_url)})

    async def idle(request: Request) -> Response:
        ask = IdleRequest.model_validate(await _json(request))
        if state.dispatcher is not None:
            await state.dispatcher.idle(ask.timeout)
        return JSONResponse(summary()["webhooks"])

    async def get_state(_: Request) -> Response:
        return JSONResponse(summary())

    def summary() -> dict[str, Any]:
        shop = state.shop
        dispatcher = state.dispatcher
        return {
            "products": len(shop.products),
            "variances": sum(len(p.variances) for p in shop.products.values()),
            "branches": {b.uid: b.name for b in shop.branches.values()},
            "baskets": len(shop.baskets),
            "canceled_baskets": sum(b.canceled for b in shop.baskets.values()),
            "stock_units": {
                b: sum(q for (branch, _, _), q in shop.stock.items() if branch == b)
                for b in shop.branches
            },
            "webhooks": {
                "url_set": bool(state.webhook_url),
                "delivered": dispatcher.delivered if dispatcher else 0,
                "dropped": dispatcher.dropped if dispatcher else 0,
                "failed_attempts": dispatcher.failed_attempts if dispatcher else 0,
            },
        }

    prefix = CONTROL_PREFIX
    return [
        Route(f"{prefix}/seed", seed, methods=["POST"]),
        Route(f"{prefix}/sale", sale, methods=["POST"]),
        Route(f"{prefix}/sales", sales, methods=["POST"]),
        Route(f"{prefix}/refund", refund, methods=["POST"]),
        Route(f"{prefix}/cancel/{{uid:int}}", cancel, methods=["POST"]),
        Route(f"{prefix}/stock", stock, methods=["POST"]),
        Route(f"{prefix}/products", products, methods=["POST"]),
        Route(f"{prefix}/webhook", webhook, methods=["PUT"]),
        Route(f"{prefix}/webhooks/idle", idle, methods=["POST"]),
        Route(f"{prefix}/state", get_state, methods=["GET"]),
    ]

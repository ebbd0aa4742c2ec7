"""Rackbeat-specific control surface under `/_control` (never rate limited or faulted).

Besides the shared faults/requests/admitted/reset routes:
- `POST /_control/seed`            load a seed document (seed.py); `{"replace": true}` resets first
- `POST /_control/stock`           `{item_number, location_number, quantity | set, option_ids?}`:
                                   a stock change as a purchase receipt or count would make it
- `POST /_control/products/{n}`    edit a product as a user in the UI would (fires product.updated)
- `GET  /_control/state`           counts, orders summary and the stock table
- `GET  /_control/webhooks/stats`  fired/suppressed per event, deliveries, failures, pending
- `POST /_control/webhooks/idle`   `{timeout_s?}`: wait until no delivery is queued or in flight
- `POST /_control/fail-next`       `{count, status?}`: the next `count` API calls answer `status`
- `GET|PUT /_control/settings`     `{auto_book_adjustments, vat_rounding}` (vat_rounding: "order"
                                   or "line", the VAT rounding guess of `records.order_totals`)
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from infra.simulators.common import CONTROL_PREFIX
from infra.simulators.rackbeat.payloads import num
from infra.simulators.rackbeat.records import VAT_ROUNDINGS
from infra.simulators.rackbeat.seed import load_seed
from infra.simulators.rackbeat.state import RackbeatState
from infra.simulators.rackbeat.validation import Errors, Invalid, integer, number


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw) if raw.strip() else {}
    except ValueError:
        raise Invalid({"body": ["The request body is not valid JSON."]}) from None
    if not isinstance(body, dict):
        raise Invalid({"body": ["The request body must be a JSON object."]})
    return body


def rackbeat_control_routes(state: RackbeatState) -> list[Route]:
    async def seed(request: Request) -> Response:
        body = await _body(request)
        if body.get("replace"):
            state.reset()
        try:
            loaded = load_seed(state.store, body)
        except (KeyError, TypeError, ValueError) as exc:
            raise Invalid({"seed": [f"Malformed seed document: {exc!r}"]}) from None
        return JSONResponse({"loaded": loaded})

    async def stock(request: Request) -> Response:
        body = await _body(request)
        errors = Errors()
        item = str(body.get("item_number") or "")
        if not item:
            errors.add("item_number", "The item number field is required.")
        location = integer(body, "location_number", errors, required=True)
        delta = number(body, "quantity", errors)
        absolute = number(body, "set", errors)
        if (delta is None) == (absolute is None):
            errors.add("quantity", "Give either quantity (a delta) or set (an absolute level).")
        errors.raise_if_any()
        assert location is not None
        key = tuple(sorted(int(o) for o in body.get("option_ids", [])))
        try:
            level = state.store.set_stock(item, location, key, delta=delta, absolute=absolute)
        finally:
            state.bus.publish(state.store.drain(), suppressed=bool(body.get("suppress_webhooks")))
        return JSONResponse(
            {
                "item_number": item,
                "location_number": location,
                "option_ids": list(key),
                "stock_quantity": num(level.stock),
                "in_order_quantity": num(level.in_order),
                "available_quantity": num(level.available),
            }
        )

    async def edit_product(request: Request) -> Response:
        body = await _body(request)
        number_ = request.path_params["number"]
        try:
            product = state.store.update_product(number_, body)
        finally:
            state.bus.publish(state.store.drain(), suppressed=False)
        return JSONResponse({"number": product.number, "updated_at": str(product.updated_at)})

    async def cancel_by_hand(request: Request) -> Response:
        """An order cancelled in Rackbeat's web app: possible whatever the API offers."""
        number_ = int(request.path_params["number"])
        try:
            order = state.store.cancel_order(number_)
        finally:
            state.bus.publish(state.store.drain(), suppressed=False)
        return JSONResponse({"number": order.number, "is_cancelled": order.is_cancelled})

    async def summary(_: Request) -> Response:
        store = state.store
        orders = list(store.orders.values())
        return JSONResponse(
            {
                "counts": {
                    "products": len(store.products),
                    "customers": len(store.customers),
                    "orders": len(orders),
                    "orders_booked": sum(o.is_booked for o in orders),
                    "orders_draft": sum(not o.is_booked for o in orders),
                    "orders_shipped": sum(o.is_shipped for o in orders),
                    "orders_cancelled": sum(o.is_cancelled for o in orders),
                    "adjustments": len(store.adjustments),
                    "webhooks": len(state.bus.hooks),
                },
                "orders": [
                    {
                        "number": o.number,
                        "heading": o.heading,
                        "is_booked": o.is_booked,
                        "is_shipped": o.is_shipped,
                        "is_cancelled": o.is_cancelled,
                        "lines": len(o.lines),
                    }
                    for o in orders
                ],
                "stock": [
                    {
                        "item_number": item,
                        "location_number": loc,
                        "option_ids": list(key),
                        "stock_quantity": num(level.stock),
                        "in_order_quantity": num(level.in_order),
                        "available_quantity": num(level.available),
                    }
                    for (item, loc, key), level in sorted(store.stock.items())
                ],
            }
        )

    async def webhook_stats(_: Request) -> Response:
        return JSONResponse(state.bus.stats())

    async def webhooks_idle(request: Request) -> Response:
        body = await _body(request)
        timeout = float(body.get("timeout_s", 10))
        try:
            await state.bus.dispatcher.idle(timeout)
        except TimeoutError:
            return JSONResponse({"idle": False, **state.bus.stats()}, 504)
        return JSONResponse({"idle": True, **state.bus.stats()})

    async def fail_next(request: Request) -> Response:
        body = await _body(request)
        errors = Errors()
        count = integer(body, "count", errors, required=True)
        status = integer(body, "status", errors) or 500
        errors.raise_if_any()
        state.fail_next.extend([status] * (count or 0))
        return JSONResponse({"queued": len(state.fail_next)})

    async def get_settings(_: Request) -> Response:
        settings = state.store.settings
        return JSONResponse(
            {
                "auto_book_adjustments": settings.auto_book_adjustments,
                "vat_rounding": settings.vat_rounding,
            }
        )

    async def put_settings(request: Request) -> Response:
        body = await _body(request)
        if "auto_book_adjustments" in body:
            state.store.settings.auto_book_adjustments = bool(body["auto_book_adjustments"])
        if "vat_rounding" in body:
            if body["vat_rounding"] not in VAT_ROUNDINGS:
                return JSONResponse({"error": f"vat_rounding is one of {VAT_ROUNDINGS}"}, 422)
            state.store.settings.vat_rounding = str(body["vat_rounding"])
        return await get_settings(request)

    c = CONTROL_PREFIX
    return [
        Route(f"{c}/seed", seed, methods=["POST"]),
        Route(f"{c}/stock", stock, methods=["POST"]),
        Route(f"{c}/products/{{number:path}}", edit_product, methods=["POST"]),
        Route(f"{c}/orders/{{number:int}}/cancel", cancel_by_hand, methods=["POST"]),
        Route(f"{c}/state", summary, methods=["GET"]),
        Route(f"{c}/webhooks/stats", webhook_stats, methods=["GET"]),
        Route(f"{c}/webhooks/idle", webhooks_idle, methods=["POST"]),
        Route(f"{c}/fail-next", fail_next, methods=["POST"]),
        Route(f"{c}/settings", get_settings, methods=["GET"]),
        Route(f"{c}/settings", put_settings, methods=["PUT"]),
    ]

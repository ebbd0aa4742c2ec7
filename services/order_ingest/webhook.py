"""The Shopbox push endpoint: authenticate, read the basket uid, fetch the basket, publish.

Shopbox authenticates its push only with a secret query parameter (`shopbox_hook_id`; see
docs/api-assumptions.md, W2). The body is not trusted for content: only the basket uid is taken
from it, and the basket itself is fetched from the Shopbox API. The only push Shopbox is known to
send, `action=updateInventory` with an array of units sold, names no basket: it is answered 202
and starts a poll, and a sweep too when units came back (negative: a refund or a void, and a
void is a change to an old basket, which only the sweep sees). Bad input gets a 4xx with a
reason and publishes nothing; a Shopbox or Kafka outage gets a 503 so the sender retries (poll
and sweep catch it anyway). A basket created before the sync start point is answered 200 with
the reason it was ignored: the push is fine, the sale is just not ours to sync (no retry
wanted).
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from domain.sales.baskets import UnusableBasket
from services.clients.http import ApiError, NotFound, is_transient
from services.clients.shopbox import ShopboxClient
from services.common.logging import get_logger
from services.common.webhook_input import Rejected, check_content_type, parse_json, read_body
from services.order_ingest.ingest import CursorStore, SalesPublisher

log = get_logger(__name__)

WEBHOOK_PATH = "/webhooks/shopbox"
_UID = re.compile(r"[A-Za-z0-9_-]{1,64}")
T = TypeVar("T")


class ShopboxPush(BaseModel):
    """What we read from a push body: which basket, and what happened to it."""

    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)

    event: Literal["basket.created", "basket.canceled"]
    basket_uid: str


class SoldUnits(BaseModel):
    """One row of an `updateInventory` push (the vendor plugin's only push): units sold."""

    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)

    product_id: str
    variance_id: str | None = None
    quantity: float


_SOLD = TypeAdapter(list[SoldUnits])


# What a 503 asks the sender to wait before it retries: a publish or fetch that failed now is
# worth trying again soon, and the poll and sweep catch the sale anyway.
RETRY_AFTER_S = 5


def refuse(status: int, reason: str) -> JSONResponse:
    headers = {"Retry-After": str(RETRY_AFTER_S)} if status == 503 else None
    return JSONResponse({"error": reason}, status_code=status, headers=headers)


def parse_push(raw: bytes, action: str | None) -> ShopboxPush | list[SoldUnits] | str:
    """The push (a basket event, or the units sold of an `updateInventory` push), or the reason
    it is refused (Rejected for a body that is not clean JSON)."""
    body: Any = parse_json(raw)
    if isinstance(body, list):
        return _validated(_SOLD.validate_python, body)
    if not isinstance(body, dict):
        return "body must be a JSON object with event and basket_uid, or an array of units sold"
    if "event" not in body and action:
        body = {**body, "event": action}
    push = _validated(ShopboxPush.model_validate, body)
    if isinstance(push, str):
        return push
    if not _UID.fullmatch(push.basket_uid):
        return "invalid push: basket_uid must be 1-64 letters, digits, '-' or '_'"
    return push


def _validated(validate: Callable[[Any], T], body: Any) -> T | str:
    try:
        return validate(body)
    except ValidationError as exc:
        fields = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return f"invalid push: {fields}"


def webhook_route(
    secret: str,
    client: ShopboxClient,
    publisher: SalesPublisher,
    cursors: CursorStore,
    *,
    poll_now: Callable[[], None],
    sweep_now: Callable[[], None],
) -> Route:
    async def receive(request: Request) -> Response:
        given = request.query_params.get("shopbox_hook_id", "")
        if not given or not hmac.compare_digest(given.encode(), secret.encode()):
            return refuse(401, "missing or wrong shopbox_hook_id")
        try:
            check_content_type(request)
            push = parse_push(await read_body(request), request.query_params.get("action"))
        except Rejected as exc:
            return refuse(exc.status, exc.reason)
        if isinstance(push, str):
            return refuse(422, push)
        if isinstance(push, list):  # names no basket: the poll finds what was sold
            poll_now()
            if any(row.quantity < 0 for row in push):  # units back: a refund, or a void, which
                sweep_now()  # only the sweep sees (the poll reads new baskets only)
            return JSONResponse({"poll": "requested", "rows": len(push)}, status_code=202)
        try:
            basket = await client.get_basket(push.basket_uid)
        except NotFound:
            return refuse(422, f"basket {push.basket_uid} does not exist in Shopbox")
        except ApiError as exc:
            status = 503 if is_transient(exc) else 502
            return refuse(status, f"could not fetch the basket from Shopbox: {exc}")
        try:
            if await cursors.ignores(basket, "webhook"):
                return JSONResponse(
                    {
                        "basket_uid": basket.uid,
                        "published": [],
                        "ignored": "created before the sync start point (initial sync)",
                    }
                )
            sent = await publisher.publish_basket(basket, source="order-ingest/webhook")
        except UnusableBasket as exc:
            return refuse(422, str(exc))
        except Exception as exc:
            log.warning("webhook publish failed", basket=basket.uid, error=str(exc))
            return refuse(503, "could not publish the sale; retry later")
        return JSONResponse({"basket_uid": basket.uid, "published": [event.type for event in sent]})

    return Route(WEBHOOK_PATH, receive, methods=["POST"])

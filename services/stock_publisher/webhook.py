"""The Rackbeat `inventory.changed` webhook: verify, parse, and hand the item to the ingest.

Rackbeat signs nothing; it sends the token it returned when the webhook was created in the
`Rackbeat-Webhook-Token` header (docs/api-assumptions.md, W1), compared here in constant time. A
bad request gets a 4xx with the reason and publishes nothing. A good one only queues a read of
the item: the body carries no quantity we could trust, so the absolute figure is always read
back.

Real deliveries carry the event only in the `Rackbeat-Webhook-Event` header and a body of just
`{"key_name": "number", "key": "..."}` (docs/api-assumptions.md, W1), so the event is read from
the header, then from a body `event`; neither means the event this URL was registered for. The
item number comes from `key` (key_name "number" or absent), `item` (the stock body one
integrator's handler reads), or `data.item_number` / `data.number` (the documented example).
"""

from __future__ import annotations

import hmac
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from services.common.logging import get_logger
from services.common.webhook_input import (
    Rejected,
    check_content_type,
    identifier,
    parse_json,
    read_body,
)

log = get_logger(__name__)

EVENT = "inventory.changed"
TOKEN_HEADER = "Rackbeat-Webhook-Token"  # noqa: S105 - a header name
EVENT_HEADER = "Rackbeat-Webhook-Event"


def check_token(given: str | None, accepted: Iterable[str]) -> None:
    tokens = [t for t in accepted if t]
    if not tokens:
        raise Rejected(401, "no webhook token is configured or registered yet")
    if not given:
        raise Rejected(401, f"missing {TOKEN_HEADER} header")
    if not any(hmac.compare_digest(given.encode(), t.encode()) for t in tokens):
        raise Rejected(401, f"{TOKEN_HEADER} does not match the registered webhook")


def item_of(raw: bytes, header_event: str | None = None) -> str:
    """The item number an `inventory.changed` delivery is about."""
    body: Any = parse_json(raw)
    if not isinstance(body, dict):
        raise Rejected(422, "body must be a JSON object")
    event = header_event or body.get("event")
    if event not in (None, EVENT):
        raise Rejected(422, f"unsupported event {event!r}; only {EVENT} is handled")
    data: dict[str, Any] = body["data"] if isinstance(body.get("data"), dict) else {}
    candidates = [body.get("item"), data.get("item_number"), data.get("number")]
    if body.get("key_name") in (None, "number"):
        candidates.insert(0, body.get("key"))
    for value in candidates:
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
            return identifier(str(value).strip(), "item number")
    raise Rejected(422, "no item number in key (key_name 'number'), item or data.item_number")


def webhook_endpoint(
    accepted_tokens: Callable[[], list[str]],
    on_item: Callable[[str], None],
    enabled: Callable[[], bool],
    counters: Counter[str],
) -> Callable[[Request], Any]:
    async def receive(request: Request) -> Response:
        # Off: answered before the token check, since no token is loaded then (nothing is
        # registered) and a 401 would make Rackbeat retry and give up on a webhook still
        # registered from when sync was on. Nothing is done with the request either way.
        if not enabled():
            counters["webhooks_ignored"] += 1
            return JSONResponse({"ignored": "stock sync is off (SYNC_STOCK_ENABLED=false)"}, 202)
        try:
            check_token(request.headers.get(TOKEN_HEADER), accepted_tokens())
            check_content_type(request)
            item = item_of(await read_body(request), request.headers.get(EVENT_HEADER))
        except Rejected as exc:
            counters["webhooks_rejected"] += 1
            log.warning("webhook rejected", status=exc.status, reason=exc.reason)
            return JSONResponse({"error": exc.reason}, status_code=exc.status)
        counters["webhooks_accepted"] += 1
        on_item(item)
        return JSONResponse({"queued": item}, status_code=202)

    return receive

"""Webhook subscriptions (`/webhooks` CRUD) and delivery of domain events to them.

Delivery goes through the shared `WebhookDispatcher` (retries with backoff, drop/duplicate/
reorder faults) with Rackbeat's headers: `Rackbeat-Webhook-Token`, `Rackbeat-Webhook-Event`,
`Rackbeat-Account-Id`, `User-Agent: Rackbeat Webhook`. The body follows the `webhook_body` switch:
`key_only` `{key_name, key}` (what real deliveries carry), `item_type` (`inventory.changed` as
`{item, item_type: "product", type: "stock"}`, other events as `key_only`), or `with_event`
`{key, key_name, event, data}` plus `old_key, new_key, changed` on `*.updated` events (the
documented example the simulator used to follow).
"""

from __future__ import annotations

import secrets
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlparse

from infra.simulators.common import Delivery, WebhookDispatcher
from infra.simulators.rackbeat.records import Event, now
from infra.simulators.rackbeat.validation import Errors, boolean, text

# The names this simulator fires. Only product.deleted, order.created and inventory.changed are
# confirmed (apis.md §1.9); the rest follow Rackbeat's `<entity>.<verb>` pattern.
DEFAULT_EVENTS = (
    "product.created",
    "product.updated",
    "product.deleted",
    "order.created",
    "order.booked",
    "inventory.changed",
)


@dataclass
class Webhook:
    id: int
    event: str
    url: str
    token: str
    is_active: bool = True
    created_at: datetime = field(default_factory=now)
    updated_at: datetime = field(default_factory=now)


@dataclass
class WebhookBus:
    dispatcher: WebhookDispatcher
    account_id: int
    events: tuple[str, ...] = DEFAULT_EVENTS
    body_shape: str = "key_only"
    hooks: dict[int, Webhook] = field(default_factory=dict)
    fired: Counter[str] = field(default_factory=Counter)
    suppressed: Counter[str] = field(default_factory=Counter)
    log: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=200))
    _next_id: int = 1

    # ----------------------------------------------------------------------------- CRUD

    def upsert(self, body: dict[str, Any]) -> tuple[Webhook, bool]:
        """Create, or update the existing hook with the same event+url. Returns (hook, created)."""
        errors = Errors()
        event = self._event(body, errors, required=True)
        url = self._url(body, errors, required=True)
        is_active = boolean(body, "is_active", errors, default=True)
        errors.raise_if_any()
        assert event is not None
        assert url is not None
        for hook in self.hooks.values():
            if hook.event == event and hook.url == url:
                hook.is_active = is_active
                hook.updated_at = now()
                return hook, False
        hook = Webhook(self._next_id, event, url, secrets.token_hex(16), is_active)
        self._next_id += 1
        self.hooks[hook.id] = hook
        return hook, True

    def update(self, hook: Webhook, body: dict[str, Any]) -> Webhook:
        errors = Errors()
        event = self._event(body, errors, required=False)
        url = self._url(body, errors, required=False)
        is_active = boolean(body, "is_active", errors, default=hook.is_active)
        errors.raise_if_any()
        hook.event = event or hook.event
        hook.url = url or hook.url
        hook.is_active = is_active
        hook.updated_at = now()
        return hook

    def _event(self, body: dict[str, Any], errors: Errors, *, required: bool) -> str | None:
        event = text(body, "event", errors, required=required)
        if event is not None and event not in self.events:
            errors.add("event", "The selected event is invalid.")
        return event

    def _url(self, body: dict[str, Any], errors: Errors, *, required: bool) -> str | None:
        url = text(body, "url", errors, required=required, max_len=2048)
        if url is not None:
            parsed = urlparse(url)
            if parsed.scheme not in ("http", "https") or not parsed.netloc:
                errors.add("url", "The url format is invalid.")
        return url

    # ----------------------------------------------------------------------------- delivery

    def publish(self, events: list[Event], *, suppressed: bool) -> None:
        for event in events:
            if suppressed:
                self.suppressed[event.name] += 1
            else:
                self.fired[event.name] += 1
            self.log.append(
                {
                    "event": event.name,
                    "key": event.key,
                    "suppressed": suppressed,
                    "at": now().isoformat(),
                }
            )
            if suppressed:
                continue
            for hook in self.hooks.values():
                if hook.is_active and hook.event == event.name:
                    self.dispatcher.submit(self._delivery(hook, event))

    def _delivery(self, hook: Webhook, event: Event) -> Delivery:
        headers = {
            "Rackbeat-Webhook-Token": hook.token,
            "Rackbeat-Webhook-Event": event.name,
            "Rackbeat-Account-Id": str(self.account_id),
            "User-Agent": "Rackbeat Webhook",
        }
        return Delivery(hook.url, headers, self._body(event))

    def _body(self, event: Event) -> dict[str, Any]:
        if self.body_shape == "item_type" and event.name == "inventory.changed":
            return {"item": event.key, "item_type": "product", "type": "stock"}
        if self.body_shape != "with_event":
            return {"key_name": event.key_name, "key": event.key}
        body: dict[str, Any] = {
            "key": event.key,
            "key_name": event.key_name,
            "event": event.name,
            "data": event.data,
        }
        if event.changed is not None:
            body |= {
                "old_key": event.old_key,
                "new_key": event.new_key,
                "changed": list(event.changed),
            }
        return body

    def stats(self) -> dict[str, Any]:
        d = self.dispatcher
        return {
            "fired": dict(self.fired),
            "suppressed": dict(self.suppressed),
            "delivered": d.delivered,
            "failed_attempts": d.failed_attempts,
            "dropped": d.dropped,
            "gave_up": d.gave_up,
            "pending": d.pending,
            "subscriptions": len(self.hooks),
            "recent": list(self.log)[-50:],
        }

    def reset(self) -> None:
        self.hooks.clear()
        self.fired.clear()
        self.suppressed.clear()
        self.log.clear()
        d = self.dispatcher
        d.delivered = d.dropped = d.failed_attempts = d.gave_up = 0


def webhook_json(hook: Webhook, *, with_token: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": hook.id,
        "event": hook.event,
        "url": hook.url,
        "is_active": hook.is_active,
        "plugin": None,
        "failures_since_last_success": 0,
        "created_at": hook.created_at.strftime("%Y-%m-%d %H:%M:%S"),
        "updated_at": hook.updated_at.strftime("%Y-%m-%d %H:%M:%S"),
    }
    if with_token:
        body["token"] = hook.token
    return body

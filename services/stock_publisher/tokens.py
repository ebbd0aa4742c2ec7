"""The webhook token: from settings, or learned by registering the webhook, kept in Kafka.

Rackbeat returns the token only when a webhook is created; the upsert on an existing event+url
answers without it (docs/api-assumptions.md, R21). So the token is persisted in a one-key
compacted topic of the catalog, `<namespace>stock-publisher.webhook.v1`, which every replica
follows. On start:
1. `RACKBEAT_WEBHOOK_TOKEN` set: use it, register nothing (the operator manages the webhook).
2. else, with `STOCK_PUBLIC_URL`: upsert `inventory.changed` -> `<public url>/webhooks/rackbeat`.
   A token in the answer (created) is published; no token and none stored (lost) means delete
   and re-create the webhook to get a fresh one. Without a public URL the webhook is off and
   the poll alone keeps stock in sync.
The topic holds a secret: keep it under the same ACLs as the rest of the connector's topics.
"""

from __future__ import annotations

import asyncio
import json

from faststream.kafka import KafkaBroker
from pydantic import SecretStr

from schemas.envelope import Model, utcnow
from schemas.topics import Topics
from services.clients.rackbeat import RackbeatClient
from services.common.logging import get_logger
from services.common.settings import KafkaSettings
from services.common.views import CompactedView
from services.stock_publisher.webhook import EVENT

log = get_logger(__name__)

WEBHOOK_PATH = "/webhooks/rackbeat"


class WebhookRegistration(Model):
    event: str
    url: str
    webhook_id: int
    token: SecretStr
    registered_at: str


class WebhookTokens:
    def __init__(self, configured: SecretStr | None) -> None:
        self._configured = configured.get_secret_value() if configured else None
        self._view: CompactedView[WebhookRegistration] | None = None
        self.callback_url: str | None = None
        self.state = "configured" if configured else "not registered"

    def accepted(self) -> list[str]:
        if self._configured:
            return [self._configured]
        if self._view and self.callback_url:
            stored = self._view.get(self.callback_url)
            if stored:
                return [stored.token.get_secret_value()]
        return []

    async def register(
        self,
        kafka: KafkaSettings,
        broker: KafkaBroker,
        rackbeat: RackbeatClient,
        public_url: str | None,
    ) -> None:
        if self._configured or not public_url:
            if not self._configured:
                self.state = "off: no STOCK_PUBLIC_URL and no RACKBEAT_WEBHOOK_TOKEN (poll only)"
            return
        self.callback_url = public_url.rstrip("/") + WEBHOOK_PATH
        topic = Topics(kafka.topic_namespace).webhook_token
        self._view = CompactedView(kafka, topic, WebhookRegistration)
        await self._view.start()
        await self._view.wait_caught_up()
        hook = await rackbeat.create_webhook(EVENT, self.callback_url)
        if hook.token is None and self._view.get(self.callback_url) is None:
            log.warning("webhook exists but its token is lost; re-creating it", id=hook.id)
            await rackbeat.delete_webhook(hook.id)
            hook = await rackbeat.create_webhook(EVENT, self.callback_url)
        if hook.token is not None:
            record = WebhookRegistration(
                event=EVENT,
                url=self.callback_url,
                webhook_id=hook.id,
                token=hook.token,
                registered_at=utcnow().isoformat(),
            )
            raw = record.model_dump(mode="json") | {"token": hook.token.get_secret_value()}
            await broker.publish(json.dumps(raw).encode(), topic, key=self.callback_url.encode())
            await _wait_for(self._view, self.callback_url, hook.id)
        self.state = f"registered (webhook {hook.id})"
        log.info("webhook registered", hook_event=EVENT, url=self.callback_url, id=hook.id)

    async def stop(self) -> None:
        if self._view:
            await self._view.stop()


async def _wait_for(view: CompactedView[WebhookRegistration], key: str, hook_id: int) -> None:
    async with asyncio.timeout(30):
        while (stored := view.get(key)) is None or stored.webhook_id != hook_id:  # noqa: ASYNC110
            await asyncio.sleep(0.05)

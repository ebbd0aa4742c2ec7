"""Publishing SKU bindings to `items.bindings.v1`: only when one changed, with a stable event id."""

from __future__ import annotations

from collections.abc import Iterable

from faststream.kafka import KafkaBroker

from schemas.envelope import deterministic_id, utcnow
from schemas.items import Binding, BindingChanged
from services.common.kafka import publish_event
from services.common.logging import get_logger
from services.common.views import BindingsView

log = get_logger(__name__)


def binding_event(binding: Binding, *, source: str, causation_id: str | None) -> BindingChanged:
    return BindingChanged(
        event_id=deterministic_id("binding", binding.sku, binding.model_dump_json()),
        occurred_at=utcnow(),
        source=source,
        causation_id=causation_id,
        payload=binding,
    )


class BindingPublisher:
    """Compare-before-publish against the bindings table and what this process already sent."""

    def __init__(self, broker: KafkaBroker, topic: str, view: BindingsView | None) -> None:
        self._broker = broker
        self._topic = topic
        self._view = view
        self._sent: dict[str, Binding | None] = {}
        """what this process published per key; None for a tombstone"""
        self.published = 0
        self.problems_reported = 0
        self.retracted = 0

    def current(self, sku: str) -> Binding | None:
        if sku in self._sent:
            return self._sent[sku]
        event = self._view.get(sku) if self._view else None
        return event.payload if event else None

    def keys(self) -> set[str]:
        """Every key with a live binding (the table's and this process's own)."""
        keys = {key for key, _ in self._view.items()} if self._view else set()
        keys |= self._sent.keys()
        return {key for key in keys if self.current(key) is not None}

    async def retract(self, keys: Iterable[str], *, reason: str) -> int:
        """Tombstone (null value) these keys, so consumers stop matching them."""
        count = 0
        for key in keys:
            if self.current(key) is None:
                continue
            log.info("binding retracted", sku=key, reason=reason)
            await self._broker.publish(None, self._topic, key=key.encode())
            self._sent[key] = None
            count += 1
        self.retracted += count
        return count

    async def publish(
        self, bindings: Iterable[Binding], *, source: str, causation_id: str | None = None
    ) -> int:
        count = 0
        for binding in bindings:
            if self.current(binding.sku) == binding:
                continue
            if binding.problem:
                self.problems_reported += 1
                log.warning("SKU not matched", sku=binding.sku, problem=binding.problem)
            event = binding_event(binding, source=source, causation_id=causation_id)
            await publish_event(self._broker, self._topic, binding.sku, event)
            self._sent[binding.sku] = binding
            count += 1
        self.published += count
        return count

"""The SKU bindings (`items.bindings.v1`): the table every service reads, and its one writer.

`BindingsView` is the table with lookups by SKU and by each side's ids. A binding with a
`problem` (empty, duplicate or over-long SKU) is kept for reporting but never returned by a
lookup: such SKUs are never matched by guess. It also knows which Rackbeat items are bound per
variation option (a stock read then asks for the variation matrix), and calls `on_bound` for a
binding that arrives live (its item's stock is read again, not left to the next sweep).
`BindingPublisher` publishes only bindings that changed, with a stable event id (item-mapper and
`syncctl initial-sync`), keeping a binding's stock copy time while it names the same item.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from faststream.kafka import KafkaBroker

from domain.bindings import keeping_copy_time
from schemas.envelope import deterministic_id, utcnow
from schemas.items import Binding, BindingChanged
from services.common.kafka import publish_event
from services.common.logging import get_logger
from services.common.settings import KafkaSettings
from services.common.views import CompactedView

log = get_logger(__name__)


class BindingsView(CompactedView[BindingChanged]):
    def __init__(self, kafka: KafkaSettings, topic: str) -> None:
        super().__init__(kafka, topic, BindingChanged, on_change=self._index)
        self._by_shopbox: dict[tuple[str, str | None], str] = {}
        self._by_rackbeat: dict[tuple[str, str | None], str] = {}
        self._option_skus: dict[str, set[str]] = {}
        self.on_bound: Callable[[str], None] | None = None
        """Called with the Rackbeat item number of a binding that changed after the replay."""

    def by_sku(self, sku: str) -> Binding | None:
        event = self.get(sku)
        return event.payload if event and event.payload.problem is None else None

    def by_shopbox(self, product_id: str, variant_id: str | None = None) -> Binding | None:
        sku = self._by_shopbox.get((product_id, variant_id))
        return self.by_sku(sku) if sku else None

    def by_rackbeat(self, item_number: str, variant: str | None = None) -> Binding | None:
        """The binding of an item, or of one of its variants (its `variant_key`)."""
        sku = self._by_rackbeat.get((item_number, variant))
        return self.by_sku(sku) if sku else None

    def problem_of(self, sku: str) -> Binding | None:
        """The binding of `sku` when it carries a problem: it says why the SKU is not matched."""
        event = self.get(sku)
        return event.payload if event and event.payload.problem else None

    def problems(self) -> list[Binding]:
        return [event.payload for _, event in self.items() if event.payload.problem]

    def has_options(self, item_number: str) -> bool:
        """True when some SKU is bound to an option of this item's variation."""
        return bool(self._option_skus.get(item_number))

    def _index(self, sku: str, event: BindingChanged | None) -> None:
        for index in (self._by_shopbox, self._by_rackbeat):
            for key in [k for k, v in index.items() if v == sku]:
                del index[key]
        for skus in self._option_skus.values():
            skus.discard(sku)
        if event is None:
            return
        binding: Binding = event.payload
        if binding.shopbox_product_id:
            self._by_shopbox[(binding.shopbox_product_id, binding.shopbox_variant_id)] = sku
        item = binding.rackbeat_item_number
        if item:
            self._by_rackbeat[(item, binding.variant_key())] = sku
        if binding.problem is not None or not item:
            return
        if binding.option_ids():
            self._option_skus.setdefault(item, set()).add(sku)
        if self.caught_up and self.on_bound is not None:
            self.on_bound(item)


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
        for new in bindings:
            binding = keeping_copy_time(self.current(new.sku), new)
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

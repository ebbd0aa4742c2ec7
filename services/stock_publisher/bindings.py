"""The bindings as stock-publisher reads them: `BindingsView` plus which Rackbeat items are
bound per variation option, so a read knows whether to ask for the variation matrix, and a
hook for bindings that arrive live (their item is read again, or its stock would wait for the
next Rackbeat change or full sweep)."""

from __future__ import annotations

from collections.abc import Callable

from schemas.items import BindingChanged
from services.common.settings import KafkaSettings
from services.common.views import BindingsView


class StockBindings(BindingsView):
    def __init__(self, kafka: KafkaSettings, topic: str) -> None:
        self._option_skus: dict[str, set[str]] = {}
        self.on_bound: Callable[[str], None] | None = None
        """Called with the Rackbeat item number of a binding that changed after the replay."""
        super().__init__(kafka, topic)

    def has_options(self, item_number: str) -> bool:
        """True when some SKU is bound to an option of this item's variation."""
        return bool(self._option_skus.get(item_number))

    def _index(self, sku: str, event: BindingChanged | None) -> None:
        super()._index(sku, event)
        for skus in self._option_skus.values():
            skus.discard(sku)
        if event is None:
            return
        binding = event.payload
        item = binding.rackbeat_item_number
        if binding.problem is not None or not item:
            return
        if binding.rackbeat_option_id:
            self._option_skus.setdefault(item, set()).add(sku)
        if self.caught_up and self.on_bound is not None:
            self.on_bound(item)

"""The bindings as stock-publisher reads them: `BindingsView` plus which Rackbeat items are
bound per variation option, so a read knows whether to ask for the variation matrix."""

from __future__ import annotations

from schemas.items import BindingChanged
from services.common.settings import KafkaSettings
from services.common.views import BindingsView


class StockBindings(BindingsView):
    def __init__(self, kafka: KafkaSettings, topic: str) -> None:
        self._option_skus: dict[str, set[str]] = {}
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
        if binding.problem is None and binding.rackbeat_item_number and binding.rackbeat_option_id:
            self._option_skus.setdefault(binding.rackbeat_item_number, set()).add(sku)

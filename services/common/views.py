"""In-memory tables built from compacted topics: the latest value per key.

Services read shared state (the SKU bindings, the order ledger) by replaying a compacted topic
from the beginning on start and then following it (`TopicFollower`: no consumer group, every
replica needs the whole table, and there is no offset to commit).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from pydantic import TypeAdapter, ValidationError

from services.common.logging import get_logger
from services.common.readers import TopicFollower
from services.common.settings import KafkaSettings

log = get_logger(__name__)
T = TypeVar("T")


class CompactedView(TopicFollower, Generic[T]):
    """Latest value per key of `topic`; a tombstone (null value) removes the key."""

    def __init__(
        self,
        kafka: KafkaSettings,
        topic: str,
        model: type[T] | TypeAdapter[T],
        on_change: Callable[[str, T | None], None] | None = None,
    ) -> None:
        super().__init__(kafka, topic, self._record)
        self._adapter: TypeAdapter[T] = (
            model if isinstance(model, TypeAdapter) else TypeAdapter(model)
        )
        self._on_change = on_change
        self._values: dict[str, T] = {}
        self.skipped = 0

    def get(self, key: str) -> T | None:
        return self._values.get(key)

    def items(self) -> Iterator[tuple[str, T]]:
        return iter(list(self._values.items()))

    def __len__(self) -> int:
        return len(self._values)

    def on_caught_up(self) -> None:
        log.info("table loaded", topic=self.topic, keys=len(self._values))

    def _record(self, record: Any) -> None:
        self.apply(record.key.decode() if record.key else "", record.value)

    def apply(self, key: str, value: bytes | None) -> None:
        """One record of the topic (also how a unit test fills a table by hand)."""
        if value is None:
            self._values.pop(key, None)
            new: T | None = None
        else:
            try:
                new = self._adapter.validate_json(value)
            except ValidationError as exc:
                self.skipped += 1
                log.warning(
                    "unreadable table record skipped", topic=self.topic, key=key, error=str(exc)
                )
                return
            self._values[key] = new
        if self._on_change:
            self._on_change(key, new)

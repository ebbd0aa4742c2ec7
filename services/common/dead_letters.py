"""Dead letters: the one writer every consumer uses, and the one reader syncctl and the
dashboard use.

A dead letter is the original record (value, key, headers) on `<topic>.dlq`, plus `x-dlq-*`
headers that say why and where from. Re-driving (syncctl) publishes the original back to the
origin topic and records `partition/offset` in `<dlq>.redriven` (compacted), so a second
re-drive skips it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from schemas.topics import dlq_name, redrive_log_name
from services.common.connection import Broker
from services.common.metrics import DEAD_LETTERS
from services.common.readers import read_records
from services.common.settings import KafkaSettings

PREFIX = "x-dlq-"
REASON = "x-dlq-reason"
ORIGIN_TOPIC = "x-dlq-origin-topic"
ORIGIN = "x-dlq-origin"
ATTEMPTS = "x-dlq-attempts"
FAILED_AT = "x-dlq-failed-at"
REDRIVEN_FROM = "x-redriven-from"
MAX_REASON = 2000


@dataclass(frozen=True)
class Failure:
    """Where a record came from and why it could not be processed."""

    topic: str
    partition: int
    offset: int
    reason: str
    attempts: int


def dead_letter_headers(original: Mapping[str, str], failure: Failure) -> dict[str, str]:
    """The original headers plus the `x-dlq-*` ones (a re-drive strips those again)."""
    return {
        **original,
        REASON: failure.reason[:MAX_REASON],
        ORIGIN_TOPIC: failure.topic,
        ORIGIN: f"{failure.topic}/{failure.partition}/{failure.offset}",
        ATTEMPTS: str(failure.attempts),
        FAILED_AT: datetime.now(UTC).isoformat(),
    }


async def write_dead_letter(
    broker: Broker,
    failure: Failure,
    *,
    key: bytes | None,
    value: bytes | None,
    headers: Mapping[str, str],
) -> None:
    """Publish the record to `<topic>.dlq`. Raises when the broker refuses: the caller then
    must not commit the original (redelivery is the only safe answer)."""
    await broker.publish(
        value or b"",
        dlq_name(failure.topic),
        key=key,
        headers=dead_letter_headers(headers, failure),
    )
    DEAD_LETTERS.labels(failure.topic).inc()


def decoded_headers(record: Any) -> dict[str, str]:
    return {k: v.decode(errors="replace") for k, v in (record.headers or ())}


@dataclass(frozen=True)
class DeadLetter:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, str]
    timestamp_ms: int

    @classmethod
    def of(cls, record: Any) -> DeadLetter:
        """From an aiokafka ConsumerRecord of a dead-letter topic."""
        return cls(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=record.value,
            headers=decoded_headers(record),
            timestamp_ms=record.timestamp,
        )

    @property
    def position(self) -> str:
        return f"{self.partition}/{self.offset}"

    @property
    def reason(self) -> str:
        return self.headers.get(REASON, "(no reason recorded)")

    @property
    def origin_topic(self) -> str | None:
        return self.headers.get(ORIGIN_TOPIC)

    @property
    def origin(self) -> str:
        return self.headers.get(ORIGIN, "?")

    @property
    def failed_at(self) -> str | None:
        return self.headers.get(FAILED_AT)

    def original_headers(self) -> list[tuple[str, bytes]]:
        return [(k, v.encode()) for k, v in self.headers.items() if not k.startswith(PREFIX)]

    def age(self, now_ms: int) -> str:
        seconds = max(0, (now_ms - self.timestamp_ms) // 1000)
        if seconds < 120:
            return f"{seconds}s"
        if seconds < 7200:
            return f"{seconds // 60}m"
        return f"{seconds // 3600}h"


async def read_dead_letters(
    kafka: KafkaSettings, topic: str, last: int | None = None
) -> list[DeadLetter]:
    """The dead letters on `topic` (all, or the last `last` per partition)."""
    return [DeadLetter.of(r) for r in await read_records(kafka, topic, last)]


async def redriven_positions(kafka: KafkaSettings, dlq_topic: str) -> set[str]:
    """`partition/offset` of every dead letter of `dlq_topic` re-driven so far."""
    return {
        record.key.decode()
        for record in await read_records(kafka, redrive_log_name(dlq_topic))
        if record.key and record.value is not None
    }

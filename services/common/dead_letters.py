"""Dead letters: the one writer every consumer uses, and the one reader syncctl and the
dashboard use.

A dead letter is the original record (value, key, headers) on `<topic>.dlq`, plus `x-dlq-*`
headers that say why and where from. Re-driving (syncctl) publishes the original back to the
origin topic and records `partition/offset` in `<dlq>.redriven` (compacted), so a second
re-drive skips it.

One dead letter per record, whatever the retries and restarts: before writing, the writer
checks what the dead-letter topic already holds (its last `RECENT` records per partition,
read once per process and topic, then kept up to date by the writer). A record counts as
already dead-lettered when its origin (topic/partition/offset) is there, or the same event
(`event_id` of the same topic, from the same re-drive if any) is: a crash between the dead
letter and the commit redelivers the first, a sweep that republishes a sale the second.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from schemas.topics import dlq_name, redrive_log_name
from services.common.connection import Broker
from services.common.logging import get_logger
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
RECENT = 500
"""Dead letters per partition looked at after a start: a redelivered record's is among them."""

log = get_logger(__name__)


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


def identities(
    topic: str, origin: str, value: bytes | None, headers: Mapping[str, str]
) -> set[str]:
    """What makes two dead letters the same: the origin record, or the same event."""
    found = {f"origin {origin}"}
    try:
        event_id = json.loads(value or b"").get("event_id")
    except (ValueError, AttributeError, RecursionError):
        event_id = None
    if isinstance(event_id, str) and event_id:
        found.add(f"event {topic} {event_id} {headers.get(REDRIVEN_FROM, '')}")
    return found


class WrittenDeadLetters:
    """The identities already on each dead-letter topic, loaded once and kept up to date."""

    def __init__(self) -> None:
        self._by_topic: dict[str, set[str]] = {}

    async def known(self, kafka: KafkaSettings | None, dlq_topic: str) -> set[str]:
        if dlq_topic not in self._by_topic:
            found: set[str] = set()
            if kafka is not None:
                for record in await read_records(kafka, dlq_topic, RECENT):
                    headers = decoded_headers(record)
                    origin_topic = headers.get(ORIGIN_TOPIC, "")
                    found |= identities(
                        origin_topic, headers.get(ORIGIN, ""), record.value, headers
                    )
            self._by_topic[dlq_topic] = found
        return self._by_topic[dlq_topic]


WRITTEN = WrittenDeadLetters()


async def write_dead_letter(
    broker: Broker,
    failure: Failure,
    *,
    key: bytes | None,
    value: bytes | None,
    headers: Mapping[str, str],
    kafka: KafkaSettings | None = None,
) -> bool:
    """Publish the record to `<topic>.dlq`, unless it is already there (False then). Raises
    when the broker refuses: the caller then must not commit the original (redelivery is the
    only safe answer). Without `kafka` only this process's own dead letters are known."""
    topic = dlq_name(failure.topic)
    origin = f"{failure.topic}/{failure.partition}/{failure.offset}"
    these = identities(failure.topic, origin, value, headers)
    known = await WRITTEN.known(kafka, topic)
    if these & known:
        log.info("record already dead-lettered; not writing it twice", origin=origin)
        return False
    await broker.publish(
        value or b"", topic, key=key, headers=dead_letter_headers(headers, failure)
    )
    DEAD_LETTERS.labels(failure.topic).inc()
    known |= these
    return True


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

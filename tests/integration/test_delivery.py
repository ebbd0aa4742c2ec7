"""At-least-once delivery on the real broker: commit after success, never after a raise,
and the retry/dead-letter policy of `reliable_subscriber`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from schemas.envelope import Model
from schemas.topics import dlq_name
from services.common.kafka import Permanent, make_broker, reliable_subscriber
from services.common.settings import KafkaSettings, RetrySettings
from tests.fixtures.kafka import TopicFactory
from tests.support import eventually

FAST_RETRY = RetrySettings(attempts=3, initial_backoff_s=0.05, max_backoff_s=0.1)


class Ping(Model):
    n: int


async def read_all(bootstrap: str, topic: str, expected: int) -> list[tuple[bytes, dict[str, str]]]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    out: list[tuple[bytes, dict[str, str]]] = []
    try:
        async with asyncio.timeout(20):
            while len(out) < expected:
                batch = await consumer.getmany(timeout_ms=500)
                for records in batch.values():
                    out += [(r.value, {k: v.decode() for k, v in r.headers}) for r in records]
    finally:
        await consumer.stop()
    return out


async def committed(bootstrap: str, topic: str, group: str) -> int | None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await consumer.start()
    try:
        offset: int | None = await consumer.committed(TopicPartition(topic, 0))
        return offset
    finally:
        await consumer.stop()


@pytest.fixture
async def broker(kafka_bootstrap: str) -> AsyncIterator[KafkaBroker]:
    broker = make_broker(KafkaSettings(bootstrap_servers=kafka_bootstrap), client_id="test")
    yield broker
    await broker.stop()


async def test_subscriber_consumes_what_was_published(
    broker: KafkaBroker, topic_factory: TopicFactory, group_id: str
) -> None:
    topic = await topic_factory("consume")
    seen: list[int] = []

    async def handle(event: Ping, _: KafkaMessage) -> None:
        seen.append(event.n)

    reliable_subscriber(
        broker, topic, group_id=group_id, model=Ping, retry=FAST_RETRY, handler=handle
    )
    await broker.start()
    for n in range(5):
        await broker.publish(Ping(n=n).model_dump_json().encode(), topic, key=b"k")
    await eventually(lambda: len(seen) == 5)
    assert seen == [0, 1, 2, 3, 4]


async def test_a_handler_that_raises_does_not_commit_its_record(
    kafka_bootstrap: str, broker: KafkaBroker, topic_factory: TopicFactory, group_id: str
) -> None:
    topic = await topic_factory("raise")
    calls: list[str] = []

    @broker.subscriber(topic, group_id=group_id, auto_offset_reset="earliest")
    async def failing(msg: KafkaMessage) -> None:
        calls.append(msg.body.decode())
        raise RuntimeError("boom")

    await broker.start()
    await broker.publish(b"first", topic)
    await eventually(lambda: len(calls) >= 2)  # redelivered: the failure was not committed past
    await broker.stop()
    assert set(calls) == {"first"}
    assert await committed(kafka_bootstrap, topic, group_id) is None

    # A healthy consumer in the same group gets the record that was never committed.
    again = make_broker(KafkaSettings(bootstrap_servers=kafka_bootstrap), client_id="test2")
    received: list[bytes] = []

    @again.subscriber(topic, group_id=group_id, auto_offset_reset="earliest")
    async def healthy(msg: KafkaMessage) -> None:
        received.append(msg.body)

    await again.start()
    try:
        await eventually(lambda: received == [b"first"])
        await asyncio.sleep(0.5)  # the commit follows the handler
    finally:
        await again.stop()
    assert await committed(kafka_bootstrap, topic, group_id) == 1


async def test_transient_failures_are_retried_then_succeed_without_a_dead_letter(
    kafka_bootstrap: str,
    kafka_admin: object,
    broker: KafkaBroker,
    topic_factory: TopicFactory,
    group_id: str,
) -> None:
    topic = await topic_factory("retry")
    await _create(kafka_admin, dlq_name(topic))
    attempts: list[int] = []

    async def flaky(event: Ping, _: KafkaMessage) -> None:
        attempts.append(event.n)
        if len(attempts) < 3:
            raise ConnectionError("Rackbeat is down")

    reliable_subscriber(
        broker, topic, group_id=group_id, model=Ping, retry=FAST_RETRY, handler=flaky
    )
    await broker.start()
    await broker.publish(Ping(n=7).model_dump_json().encode(), topic)
    await eventually(lambda: len(attempts) == 3)
    await asyncio.sleep(0.5)
    assert attempts == [7, 7, 7]
    assert await _end_offset(kafka_bootstrap, dlq_name(topic)) == 0


async def test_bad_records_and_exhausted_retries_go_to_dead_letters_with_a_reason(
    kafka_bootstrap: str,
    kafka_admin: object,
    broker: KafkaBroker,
    topic_factory: TopicFactory,
    group_id: str,
) -> None:
    topic = await topic_factory("dlq")
    dead = dlq_name(topic)
    await _create(kafka_admin, dead)
    handled: list[int] = []

    async def handle(event: Ping, _: KafkaMessage) -> None:
        if event.n == 1:
            raise Permanent("unknown SKU 'X-1'")
        if event.n == 2:
            raise TimeoutError("Rackbeat did not answer")
        handled.append(event.n)

    reliable_subscriber(
        broker, topic, group_id=group_id, model=Ping, retry=FAST_RETRY, handler=handle
    )
    await broker.start()
    for body in [
        b"not json",
        Ping(n=1).model_dump_json().encode(),
        Ping(n=2).model_dump_json().encode(),
        Ping(n=3).model_dump_json().encode(),
    ]:
        await broker.publish(body, topic, key=b"same-partition")

    letters = await read_all(kafka_bootstrap, dead, expected=3)
    await eventually(lambda: handled == [3])  # the partition kept moving past the bad records
    by_value = dict(letters)
    assert "invalid record" in by_value[b"not json"]["x-dlq-reason"]
    permanent = by_value[Ping(n=1).model_dump_json().encode()]
    assert permanent["x-dlq-reason"] == "Permanent: unknown SKU 'X-1'"
    assert permanent["x-dlq-attempts"] == "1"
    exhausted = by_value[Ping(n=2).model_dump_json().encode()]
    assert exhausted["x-dlq-attempts"] == str(FAST_RETRY.attempts)
    assert exhausted["x-dlq-origin-topic"] == topic
    assert json.loads(Ping(n=2).model_dump_json()) == {"n": 2}


async def _create(admin: object, name: str) -> None:
    from aiokafka.admin import NewTopic

    await admin.create_topics([NewTopic(name, 1, 1)])  # type: ignore[attr-defined]


async def _end_offset(bootstrap: str, topic: str) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        ends = await consumer.end_offsets([TopicPartition(topic, 0)])
        return int(sum(ends.values()))
    finally:
        await consumer.stop()

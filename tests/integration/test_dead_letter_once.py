"""One dead letter per record on the real broker, whatever the retries and restarts."""

from __future__ import annotations

import pytest
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from schemas.envelope import Model
from schemas.topics import dlq_name
from services.common import dead_letters
from services.common.dead_letters import Failure, WrittenDeadLetters, write_dead_letter
from services.common.kafka import Permanent, reliable_subscriber
from services.common.settings import KafkaSettings
from tests.fixtures.kafka import TopicFactory
from tests.integration.test_delivery import FAST_RETRY, _create, _end_offset, broker
from tests.support import eventually

__all__ = ["broker"]  # the fixture


class Tagged(Model):
    event_id: str
    n: int


async def test_a_record_redelivered_after_a_restart_is_not_dead_lettered_twice(
    kafka_bootstrap: str,
    kafka_admin: object,
    broker: KafkaBroker,
    topic_factory: TopicFactory,
    group_id: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    topic = await topic_factory("once")
    dead = dlq_name(topic)
    await _create(kafka_admin, dead)
    await broker.start()
    first = Tagged(event_id="e-1", n=1).model_dump_json().encode()
    await broker.publish(first, topic, key=b"k")
    await broker.publish(Tagged(event_id="e-2", n=2).model_dump_json().encode(), topic, key=b"k")
    # The crash: the dead letter of offset 0 was written, the commit never happened.
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap)
    await write_dead_letter(
        broker,
        Failure(topic, 0, 0, "Permanent: x", 1),
        key=b"k",
        value=first,
        headers={},
        kafka=kafka,
    )
    monkeypatch.setattr(dead_letters, "WRITTEN", WrittenDeadLetters())  # a new process
    handled: list[int] = []

    async def handle(event: Tagged, _: KafkaMessage) -> None:
        if event.n == 1:
            raise Permanent("unknown SKU")
        handled.append(event.n)

    reliable_subscriber(
        broker, topic, group_id=group_id, model=Tagged, retry=FAST_RETRY, handler=handle
    )
    await broker.start()
    await eventually(lambda: handled == [2])  # offset 0 was redelivered and passed
    assert await _end_offset(kafka_bootstrap, dead) == 1


async def test_the_same_event_published_twice_gets_one_dead_letter(
    kafka_bootstrap: str,
    kafka_admin: object,
    broker: KafkaBroker,
    topic_factory: TopicFactory,
    group_id: str,
) -> None:
    topic = await topic_factory("twice")
    dead = dlq_name(topic)
    await _create(kafka_admin, dead)
    handled: list[int] = []

    async def handle(event: Tagged, _: KafkaMessage) -> None:
        if event.event_id == "same":
            raise Permanent("unknown SKU")
        handled.append(event.n)

    reliable_subscriber(
        broker, topic, group_id=group_id, model=Tagged, retry=FAST_RETRY, handler=handle
    )
    await broker.start()
    for n in (1, 2):  # a sweep republishing a sale: a second record of the same event
        await broker.publish(Tagged(event_id="same", n=n).model_dump_json().encode(), topic)
    await broker.publish(Tagged(event_id="other", n=3).model_dump_json().encode(), topic)
    await eventually(lambda: handled == [3])
    assert await _end_offset(kafka_bootstrap, dead) == 1

"""The group-less readers on the real broker start at the beginning every time.

A consumer assigned by hand resets its position with its `auto_offset_reset` as soon as it is
assigned. With aiokafka's default ("latest"), that reset could land after our own
`seek_to_beginning` and move the reader to the end: a dead-letter listing came back empty, and
a service restarted with an empty bindings table dead-lettered the next sales. Reading many times
in a row makes that race show.
"""

from __future__ import annotations

from aiokafka import AIOKafkaProducer

from services.common.readers import TopicFollower, read_records
from services.common.settings import KafkaSettings
from tests.fixtures.kafka import TopicFactory

READS = 15


async def test_bounded_reads_always_see_what_is_on_the_topic(
    kafka_bootstrap: str, topic_factory: TopicFactory
) -> None:
    topic = await topic_factory("reader", partitions=3)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"only", key=b"k", partition=0)
    finally:
        await producer.stop()
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap)
    counts = [len(await read_records(kafka, topic)) for _ in range(READS)]
    assert counts == [1] * READS


async def test_a_follower_always_loads_the_whole_topic(
    kafka_bootstrap: str, topic_factory: TopicFactory
) -> None:
    topic = await topic_factory("follower", partitions=1, compacted=True)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        for n in range(3):
            await producer.send_and_wait(topic, b"v", key=f"k{n}".encode())
    finally:
        await producer.stop()
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap)
    loaded = []
    for _ in range(READS):
        seen: list[object] = []
        follower = TopicFollower(kafka, topic, seen.append)
        await follower.start()
        try:
            await follower.wait_caught_up(timeout_s=20)
        finally:
            await follower.stop()
        loaded.append(len(seen))
    assert loaded == [3] * READS

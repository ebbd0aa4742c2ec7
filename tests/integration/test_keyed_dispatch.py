"""order-writer's keyed dispatch on the real broker: records of different keys run at once,
one key's records in order, a waiting key holds only itself, and the commit never passes an
unfinished record (so a consumer stopped mid-batch leaves its unfinished records redelivered)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from services.common.kafka import make_broker, record_of
from services.common.settings import KafkaSettings, RetrySettings
from services.order_writer.keyed import KeyedDispatcher, keyed_subscriber
from tests.fixtures.kafka import TopicFactory
from tests.support import eventually

RETRY = RetrySettings()
Work = Callable[[KafkaMessage], Awaitable[None]]


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


async def publish(broker: KafkaBroker, topic: str, records: list[tuple[str, int]]) -> None:
    await broker.connect()
    for key, n in records:
        await broker.publish(f"{key}:{n}".encode(), topic, key=key.encode())


def parsed(msg: KafkaMessage) -> tuple[str, int]:
    key, n = msg.body.decode().split(":")
    return key, int(n)


async def start(
    broker: KafkaBroker, topic: str, group: str, work: Work, max_in_flight: int = 50
) -> KeyedDispatcher:
    dispatcher = keyed_subscriber(
        broker, topic, group_id=group, work=work, retry=RETRY, max_in_flight=max_in_flight
    )
    await broker.start()
    return dispatcher


async def test_keys_run_concurrently_and_each_key_keeps_its_order(
    broker: KafkaBroker, topic_factory: TopicFactory, group_id: str, kafka_bootstrap: str
) -> None:
    topic = await topic_factory("keyed-order")
    records = [(f"k{k}", n) for n in range(10) for k in range(20)]
    seen: dict[str, list[int]] = {}
    running = 0
    most_at_once = 0
    rng = random.Random(3)

    async def work(msg: KafkaMessage) -> None:
        nonlocal running, most_at_once
        running += 1
        most_at_once = max(most_at_once, running)
        await asyncio.sleep(rng.uniform(0, 0.02))
        key, n = parsed(msg)
        seen.setdefault(key, []).append(n)
        running -= 1

    await publish(broker, topic, records)
    await start(broker, topic, group_id, work, max_in_flight=16)
    await eventually(lambda: sum(map(len, seen.values())) == len(records), timeout=30)
    assert all(ns == list(range(10)) for ns in seen.values()), seen
    assert 1 < most_at_once <= 16  # concurrent, and bounded by max_in_flight
    await eventually(
        lambda: _committed_is(kafka_bootstrap, topic, group_id, len(records)), timeout=10
    )


async def _committed_is(bootstrap: str, topic: str, group: str, offset: int) -> bool:
    return await committed(bootstrap, topic, group) == offset


async def test_a_waiting_key_does_not_delay_other_keys(
    broker: KafkaBroker, topic_factory: TopicFactory, group_id: str
) -> None:
    topic = await topic_factory("keyed-wait")
    release = asyncio.Event()
    finished: list[tuple[str, int]] = []

    async def work(msg: KafkaMessage) -> None:
        key, n = parsed(msg)
        if key == "stuck":
            await release.wait()  # a sale whose binding is not there yet, retrying
        finished.append((key, n))

    await publish(broker, topic, [("stuck", 0), ("stuck", 1)])
    await publish(broker, topic, [(f"k{k}", 0) for k in range(50)])
    await start(broker, topic, group_id, work)
    await eventually(lambda: len(finished) == 50, timeout=20)
    assert all(key != "stuck" for key, _ in finished)
    release.set()
    await eventually(lambda: len(finished) == 52, timeout=10)
    assert [n for key, n in finished if key == "stuck"] == [0, 1]


async def test_a_consumer_stopped_mid_batch_commits_only_below_its_lowest_unfinished_record(
    kafka_bootstrap: str, topic_factory: TopicFactory, group_id: str
) -> None:
    topic = await topic_factory("keyed-kill")
    settings = KafkaSettings(bootstrap_servers=kafka_bootstrap)
    effects: list[tuple[str, int]] = []
    done: set[tuple[str, int]] = set()  # what an idempotent effect (the ledger) remembers
    hang = asyncio.Event()

    def work_of(first_run: bool) -> Work:
        async def work(msg: KafkaMessage) -> None:
            key, n = parsed(msg)
            if first_run and record_of(msg).offset == 10:
                await hang.wait()  # in flight when the consumer dies
            if (key, n) not in done:
                done.add((key, n))
                effects.append((key, n))

        return work

    first = make_broker(settings, client_id="first")
    records = [(f"k{i % 7}", i) for i in range(40)]
    await publish(first, topic, records)
    await start(first, topic, group_id, work_of(first_run=True))
    # offset 10 is k3's; k3's later records (17, 24, 31, 38) wait behind it, the rest are done
    await eventually(lambda: len(effects) == 35, timeout=20)
    await eventually(lambda: _committed_is(kafka_bootstrap, topic, group_id, 10), timeout=10)
    await asyncio.sleep(0.5)  # a later commit would be the bug
    assert await committed(kafka_bootstrap, topic, group_id) == 10
    await first.stop()  # the unfinished record is never committed
    hang.set()  # (the stopped consumer's task may finish now: its commit has no consumer)

    second = make_broker(settings, client_id="second")
    redelivered: list[int] = []

    async def again(msg: KafkaMessage) -> None:
        redelivered.append(record_of(msg).offset)
        await work_of(first_run=False)(msg)

    try:
        await start(second, topic, group_id, again)
        await eventually(lambda: len(effects) == 40, timeout=20)
        await eventually(lambda: _committed_is(kafka_bootstrap, topic, group_id, 40), timeout=10)
    finally:
        await second.stop()
    assert min(redelivered) == 10
    assert sorted(effects) == sorted(records)  # every effect exactly once

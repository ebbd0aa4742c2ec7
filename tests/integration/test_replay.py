"""syncctl replay and lag on the real broker: a stopped group is moved back and re-reads;
an active group is refused."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from services.common.kafka import make_broker
from services.common.lags import group_lags
from services.common.settings import KafkaSettings
from services.syncctl.replay import ReplayRefused, replay
from tests.fixtures.kafka import TopicFactory
from tests.support import eventually


@pytest.fixture
async def broker(kafka_bootstrap: str) -> AsyncIterator[KafkaBroker]:
    broker = make_broker(KafkaSettings(bootstrap_servers=kafka_bootstrap), client_id="replay")
    yield broker
    await broker.stop()


async def lag_of(kafka: KafkaSettings, group: str, topic: str) -> int | None:
    rows = [r for r in await group_lags(kafka, {topic}) if r.group == group and r.topic == topic]
    return rows[0].lag if rows else None


async def test_replay_moves_a_stopped_group_back_and_refuses_an_active_one(
    kafka_bootstrap: str, broker: KafkaBroker, topic_factory: TopicFactory, group_id: str
) -> None:
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap)
    topic = await topic_factory("replay", partitions=2)
    seen: list[bytes] = []

    @broker.subscriber(topic, group_id=group_id, auto_offset_reset="earliest")
    async def handle(msg: KafkaMessage) -> None:
        seen.append(msg.body)

    await broker.start()
    for n in range(6):
        await broker.publish(f"r{n}".encode(), topic, key=str(n).encode())
    await eventually(lambda: len(seen) == 6)
    with pytest.raises(ReplayRefused, match="stop the service"):
        await replay(kafka, group_id, topic)
    await broker.stop()
    assert await lag_of(kafka, group_id, topic) == 0

    moved = await replay(kafka, group_id, topic)
    assert moved == {0: 0, 1: 0}
    assert await lag_of(kafka, group_id, topic) == 6

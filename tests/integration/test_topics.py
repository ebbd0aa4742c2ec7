"""ensure_topics on the real broker: creates the catalog once, then nothing; the replication
factor setting reaches the broker (a factor the cluster cannot hold is refused by name)."""

from __future__ import annotations

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from schemas.topics import TopicCreationFailed, all_specs, ensure_topics
from tests.fixtures.kafka import unique


async def test_creates_every_catalog_topic_once(kafka_admin: AIOKafkaAdminClient) -> None:
    namespace = unique("topics") + "."
    created = await ensure_topics(kafka_admin, namespace)
    assert sorted(created) == sorted(f"{namespace}{spec.name}" for spec in all_specs())
    assert await ensure_topics(kafka_admin, namespace) == []

    described = await kafka_admin.describe_topics(created)
    by_name = {topic["topic"]: topic for topic in described}
    for spec in all_specs():
        partitions = by_name[f"{namespace}{spec.name}"]["partitions"]
        assert len(partitions) == spec.partitions
        assert all(len(p["replicas"]) == 1 for p in partitions)


async def test_a_replication_factor_above_the_broker_count_is_refused_by_name(
    kafka_admin: AIOKafkaAdminClient,
) -> None:
    namespace = unique("topics") + "."
    with pytest.raises(TopicCreationFailed, match=f"creating topic {namespace}"):
        await ensure_topics(kafka_admin, namespace, replication_factor=2)

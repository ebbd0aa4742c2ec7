"""The worked example of docs/deployment-reference.md: the audit consumer, added as a new
service with its own consumer group, reads existing streams without touching the services that
write them, and after a stop resumes from its committed offsets (each record audited once). Real
broker, the service as a real process (started like `make run` would, from infra/processes.py
OPTIONAL).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from schemas.topics import Topics
from tests.fixtures.kafka import unique
from tests.fixtures.services import RunningService, StartService
from tests.support import eventually
from tests.unit.test_audit_lines import order, push


@pytest.fixture
async def producer(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    client = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, enable_idempotence=True)
    await client.start()
    yield client
    await client.stop()


def audit_lines(service: RunningService) -> list[dict[str, Any]]:
    lines = []
    for raw in service.log_path.read_text(errors="replace").splitlines():
        if raw.startswith("{"):
            record = json.loads(raw)
            if record.get("event") == "audit":
                lines.append(record)
    return lines


async def test_audit_reads_both_streams_in_its_own_group_and_resumes_after_a_stop(
    start_service: StartService, topic_namespace: str, producer: AIOKafkaProducer
) -> None:
    topics = Topics(topic_namespace)
    env = {"KAFKA_TOPIC_NAMESPACE": topic_namespace, "AUDIT_GROUP_ID": unique("audit")}
    await producer.send_and_wait(topics.orders_synced, order().model_dump_json().encode(), b"b-7")
    await producer.send_and_wait(topics.stock_pushed, push().model_dump_json().encode(), b"K|1")
    await producer.send_and_wait(topics.stock_pushed, b"not json", b"bad")

    audit = await start_service("audit", env=env)
    await eventually(lambda: len(audit_lines(audit)) == 3, timeout=30)
    by_key = {line["key"]: line for line in audit_lines(audit)}
    assert by_key["b-7"]["basket_id"] == "b-7" and by_key["b-7"]["level"] == "info"
    assert by_key["K|1"]["sku"] == "KAFFE-1" and by_key["K|1"]["quantity"] == "7"
    assert by_key["bad"]["valid"] is False and by_key["bad"]["level"] == "warning"

    # SIGTERM: a graceful stop that commits what was audited (uvicorn re-raises the signal).
    assert audit.terminate() in {0, -15}
    assert '"event": "stopped"' in audit.log_tail()
    await producer.send_and_wait(topics.orders_synced, order().model_dump_json().encode(), b"b-8")
    await audit.restart()
    await eventually(lambda: len(audit_lines(audit)) == 4, timeout=30)
    keys = [line["key"] for line in audit_lines(audit)]
    assert sorted(keys) == ["K|1", "b-7", "b-8", "bad"]  # nothing audited twice after restart

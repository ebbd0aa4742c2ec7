"""A private broker (own ports and data dir) for what the shared one must not go through:
stopping it. Records survive a restart, and a service waits for Kafka instead of crashing."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from infra.simulators.common import free_port
from tests.fixtures.kafka import REPO
from tests.fixtures.services import StartService
from tests.support import eventually


@dataclass
class PrivateBroker:
    port: int
    home: Path

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _run(self, command: str) -> None:
        env = {
            **os.environ,
            "KAFKA_PORT": str(self.port),
            "KAFKA_CONTROLLER_PORT": str(free_port() if command == "up" else 0),
            "KAFKA_HOME_DIR": str(self.home),
        }
        result = subprocess.run(
            [str(REPO / "infra/kafka/kafka.sh"), command],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=180,
        )
        assert result.returncode == 0, result.stderr + result.stdout

    def up(self) -> None:
        self._run("up")

    def down(self) -> None:
        self._run("down")


@pytest.fixture
def private_broker(tmp_path: Path, kafka_bootstrap: str) -> Iterator[PrivateBroker]:
    broker = PrivateBroker(port=free_port(), home=tmp_path / "kafka")
    yield broker
    broker.down()


async def test_records_survive_a_broker_restart(private_broker: PrivateBroker) -> None:
    private_broker.up()
    admin = AIOKafkaAdminClient(bootstrap_servers=private_broker.bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic("durable", 1, 1)])
    await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=private_broker.bootstrap, enable_idempotence=True)
    await producer.start()
    for n in range(5):
        await producer.send_and_wait("durable", f"record-{n}".encode())
    await producer.stop()

    private_broker.down()
    private_broker.up()

    consumer = AIOKafkaConsumer(
        "durable", bootstrap_servers=private_broker.bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    values: list[bytes] = []
    try:

        async def read_five() -> bool:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                values.extend(record.value for record in records)
            return len(values) >= 5

        await eventually(read_five, timeout=30)
    finally:
        await consumer.stop()
    assert values == [f"record-{n}".encode() for n in range(5)]


async def test_a_service_waits_for_kafka_and_becomes_ready_when_it_answers(
    private_broker: PrivateBroker, start_service: StartService
) -> None:
    service = await start_service(
        "order-writer", env={"KAFKA_BOOTSTRAP_SERVERS": private_broker.bootstrap}, ready=False
    )

    async def not_ready_with_reason() -> bool:
        try:
            async with httpx.AsyncClient() as client:
                response = await client.get(f"{service.url}/health/ready", timeout=2)
        except httpx.HTTPError:
            return False
        return response.status_code == 503 and private_broker.bootstrap in response.text

    await eventually(not_ready_with_reason, timeout=30)
    await eventually(lambda: "kafka unreachable, retrying" in service.log_tail(), timeout=10)
    assert private_broker.bootstrap in service.log_tail()

    private_broker.up()
    await service.wait_ready(timeout=90)  # reconnect backoff is capped at 30 s
    assert service.popen is not None and service.popen.poll() is None  # never crashed

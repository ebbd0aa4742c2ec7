"""A private broker (own ports and data dir) for what the shared one must not go through:
stopping it. Records survive a restart, and a service waits for Kafka instead of crashing."""

from __future__ import annotations

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from tests.fixtures.private_broker import PrivateBroker
from tests.fixtures.services import StartService
from tests.support import eventually


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

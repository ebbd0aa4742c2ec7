"""A consumer process stopped and started again resumes from its committed offset:
nothing lost, nothing that was committed processed twice."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from aiokafka import AIOKafkaProducer

from tests.fixtures.kafka import REPO, TopicFactory
from tests.integration.resume_consumer import Numbered
from tests.support import eventually


def start_consumer(bootstrap: str, topic: str, group: str, out: Path) -> subprocess.Popen[bytes]:
    out.with_suffix(".ready").unlink(missing_ok=True)
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.integration.resume_consumer",
            bootstrap,
            topic,
            group,
            str(out),
        ],
        cwd=REPO,
    )


def handled(out: Path) -> list[int]:
    return [int(line) for line in out.read_text().split()] if out.exists() else []


async def publish(bootstrap: str, topic: str, numbers: range) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        for n in numbers:
            await producer.send_and_wait(topic, Numbered(n=n).model_dump_json().encode(), key=b"k")
    finally:
        await producer.stop()


async def test_consumer_resumes_from_committed_offset_after_restart(
    kafka_bootstrap: str, topic_factory: TopicFactory, group_id: str, tmp_path: Path
) -> None:
    topic = await topic_factory("resume")
    out = tmp_path / "handled.txt"
    await publish(kafka_bootstrap, topic, range(0, 20))

    first = start_consumer(kafka_bootstrap, topic, group_id, out)
    await eventually(lambda: len(handled(out)) == 20, timeout=60)
    first.send_signal(signal.SIGTERM)
    assert first.wait(timeout=30) == 0

    await publish(kafka_bootstrap, topic, range(20, 35))  # arrives while nobody consumes
    second = start_consumer(kafka_bootstrap, topic, group_id, out)
    try:
        await eventually(lambda: out.with_suffix(".ready").exists(), timeout=60)
        await eventually(lambda: len(handled(out)) >= 35, timeout=60)
        await publish(kafka_bootstrap, topic, range(35, 36))  # a marker: all before it are done
        await eventually(lambda: handled(out)[-1:] == [35], timeout=30)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)
    assert handled(out) == list(range(36))  # each exactly once, in order

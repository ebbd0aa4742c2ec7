"""`make run` deletes the topics of earlier demo runs on the real broker: theirs only, never the
current run's and never a topic outside the demo prefix. A unique prefix stands in for `demo-`,
so a demo running on the same broker while the tests run keeps its topics."""

from __future__ import annotations

import subprocess
import sys

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from infra.demo_topics import delete_earlier_demo_topics
from services.common.settings import KafkaSettings
from tests.fixtures.kafka import REPO, unique


async def test_deletes_earlier_runs_topics_only(
    kafka_admin: AIOKafkaAdminClient, kafka_bootstrap: str
) -> None:
    prefix = unique("demotest") + "-"
    earlier = [f"{prefix}20261130-090000.shopbox.sales.v1", f"{prefix}20261201-101500.items.v1"]
    current = f"{prefix}20261201-120000."
    kept = [f"{current}shopbox.sales.v1", f"{unique('other')}.{prefix}x"]
    await kafka_admin.create_topics([NewTopic(t, 1, 1) for t in earlier + kept])

    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap, topic_namespace=current)
    deleted, refused = await delete_earlier_demo_topics(kafka, prefix=prefix)

    assert (sorted(deleted), refused) == (sorted(earlier), {})
    remaining = set(await kafka_admin.list_topics())
    assert remaining.isdisjoint(earlier)
    assert set(kept) <= remaining
    assert await delete_earlier_demo_topics(kafka, prefix=prefix) == ([], {})


def test_refuses_outside_a_demo_namespace() -> None:
    """Run by hand with the services' namespace, it deletes nothing (and needs no broker)."""
    done = subprocess.run(
        [sys.executable, "-m", "infra.demo_topics"],
        cwd=REPO,
        env={"KAFKA_TOPIC_NAMESPACE": "shop.", "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "not a demo namespace" in done.stdout

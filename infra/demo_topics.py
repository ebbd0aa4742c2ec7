"""Deletes the topics of earlier demo runs: `python -m infra.demo_topics` (make run calls it).

Each `make run` starts the simulators with fresh in-memory data, so it uses a fresh topic
namespace (`demo-<time>.`). The topics of earlier runs describe baskets and items that no longer
exist anywhere; kept, they would only fill the broker's disk (`.kafka/`) run after run. Only
names under the demo prefix are touched, and never the current run's namespace.
"""

from __future__ import annotations

import asyncio
import sys

from aiokafka.admin import AIOKafkaAdminClient

from infra.processes import DEMO_NAMESPACE_PREFIX
from services.common.connection import client_kwargs
from services.common.settings import KafkaSettings


def earlier_demo_topics(
    topics: list[str], current_namespace: str, prefix: str = DEMO_NAMESPACE_PREFIX
) -> list[str]:
    """The demo topics among `topics` that do not belong to the current run."""
    return sorted(t for t in topics if t.startswith(prefix) and not t.startswith(current_namespace))


async def delete_earlier_demo_topics(
    kafka: KafkaSettings, prefix: str = DEMO_NAMESPACE_PREFIX
) -> tuple[list[str], dict[str, int]]:
    """Delete the earlier demo runs' topics on the broker: (deleted names, {refused name: Kafka
    error code}). The broker answers per topic, so one refusal does not hide the others."""
    admin = AIOKafkaAdminClient(**client_kwargs(kafka))
    await admin.start()
    try:
        doomed = earlier_demo_topics(await admin.list_topics(), kafka.topic_namespace, prefix)
        if not doomed:
            return [], {}
        response = await admin.delete_topics(doomed)
    finally:
        await admin.close()
    refused = {topic: code for topic, code in response.topic_error_codes if code != 0}
    return [t for t in doomed if t not in refused], refused


def main() -> int:
    kafka = KafkaSettings()
    if not kafka.topic_namespace.startswith(DEMO_NAMESPACE_PREFIX):
        print(f"refusing: KAFKA_TOPIC_NAMESPACE is not a demo namespace ({DEMO_NAMESPACE_PREFIX}*)")
        return 2
    deleted, refused = asyncio.run(delete_earlier_demo_topics(kafka))
    runs = {name.split(".", 1)[0] for name in deleted}
    print(f"demo: deleted {len(deleted)} topics of {len(runs)} earlier demo runs", flush=True)
    for topic, code in refused.items():
        print(f"demo: Kafka refused to delete {topic} (error code {code})", flush=True)
    return 1 if refused else 0


if __name__ == "__main__":
    sys.exit(main())

"""audit: wiring only. One subscriber on two existing topics in its own consumer group, so it
reads every record from the start (or from its committed offsets after a restart) without
touching the offsets, or the code, of the services that write those topics.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from faststream import AckPolicy
from faststream.kafka.annotations import KafkaMessage

from schemas.topics import Topics
from services.audit.lines import AUDITED, audit_line
from services.common.kafka import make_broker, record_of
from services.common.logging import get_logger
from services.common.runtime import Service
from services.common.settings import AuditSettings, KafkaSettings

NAME = "audit"
DEFAULT_PORT = 8005

log = get_logger(NAME)


def build() -> Service:
    kafka = KafkaSettings()
    settings = AuditSettings()
    broker = make_broker(kafka, client_id=NAME)
    topics = Topics(kafka.topic_namespace)
    counts: Counter[str] = Counter()

    @broker.subscriber(
        *(topics.name(base) for base in AUDITED),
        group_id=settings.group_id,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
    )
    async def on_record(msg: KafkaMessage) -> None:
        record = record_of(msg)
        line = audit_line(record.topic, kafka.topic_namespace, record.key, record.value)
        position = {"partition": record.partition, "offset": record.offset}
        if line["valid"]:
            log.info("audit", **line, **position)
        else:
            log.warning("audit", **line, **position)
        counts[line["topic"]] += 1

    def status() -> dict[str, Any]:
        return {"group_id": settings.group_id, "audited": dict(counts)}

    return Service(name=NAME, default_port=DEFAULT_PORT, broker=broker, kafka=kafka, status=status)

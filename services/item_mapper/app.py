"""item-mapper: wiring only (broker, subscribers, HTTP routes); the logic lives beside it."""

from __future__ import annotations

from services.common.kafka import make_broker
from services.common.runtime import Service
from services.common.settings import KafkaSettings

NAME = "item-mapper"
DEFAULT_PORT = 8004


def build() -> Service:
    kafka = KafkaSettings()
    broker = make_broker(kafka, client_id=NAME)
    return Service(name=NAME, default_port=DEFAULT_PORT, broker=broker, kafka=kafka)

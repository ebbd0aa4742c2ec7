"""How every Kafka client of ours connects (security, timeouts) and the admin calls they share:
the services' FastStream brokers (`services.common.kafka`), the table readers, syncctl and the
dashboard all take their settings from here, so one set of KAFKA_* variables works everywhere.
"""

from __future__ import annotations

import ssl
from typing import Any, Protocol

from aiokafka.admin import AIOKafkaAdminClient
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from schemas.topics import ensure_topics
from services.common.settings import KafkaSettings


class Broker(Protocol):
    """What publishing needs of a `KafkaBroker` (a unit test passes a recording fake)."""

    async def publish(
        self,
        message: Any,
        topic: str = ...,
        *,
        key: bytes | Any | None = ...,
        headers: dict[str, str] | None = ...,
    ) -> Any: ...


def make_security(settings: KafkaSettings) -> BaseSecurity | None:
    protocol = settings.security_protocol
    if protocol == "PLAINTEXT":
        return None
    context = ssl.create_default_context(cafile=settings.ssl_cafile) if "SSL" in protocol else None
    if context is not None and settings.ssl_certfile:  # mutual TLS: the broker checks us too
        context.load_cert_chain(settings.ssl_certfile, settings.ssl_keyfile)
    if protocol == "SSL":
        return BaseSecurity(ssl_context=context, use_ssl=True)
    if not settings.sasl_username or settings.sasl_password is None:
        raise ValueError(f"KAFKA_SECURITY_PROTOCOL={protocol} needs KAFKA_SASL_USERNAME/PASSWORD")
    sasl = {"PLAIN": SASLPlaintext, "SCRAM-SHA-256": SASLScram256, "SCRAM-SHA-512": SASLScram512}
    return sasl[settings.sasl_mechanism](
        settings.sasl_username,
        settings.sasl_password.get_secret_value(),
        ssl_context=context,
        use_ssl=protocol == "SASL_SSL",
    )


def client_kwargs(settings: KafkaSettings) -> dict[str, Any]:
    """Connection settings for plain aiokafka clients (admin, table readers)."""
    security = make_security(settings)
    kwargs: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers,
        "request_timeout_ms": settings.request_timeout_ms,
        "security_protocol": settings.security_protocol,
        "ssl_context": security.ssl_context if security else None,
    }
    if settings.sasl_password is not None:
        kwargs |= {
            "sasl_mechanism": settings.sasl_mechanism,
            "sasl_plain_username": settings.sasl_username,
            "sasl_plain_password": settings.sasl_password.get_secret_value(),
        }
    return kwargs


async def ensure_catalog_topics(kafka: KafkaSettings) -> list[str]:
    """Create the missing topics of the catalog under the configured namespace, with their
    configs and KAFKA_REPLICATION_FACTOR (rather than let a broker auto-create them plain)."""
    admin = AIOKafkaAdminClient(**client_kwargs(kafka))
    await admin.start()
    try:
        return await ensure_topics(
            admin, kafka.topic_namespace, replication_factor=kafka.replication_factor
        )
    finally:
        await admin.close()


async def topic_partitions(settings: KafkaSettings, topic: str) -> list[int]:
    """The topic's partition numbers, or [] when it does not exist. Asked through the admin
    client: asking a consumer about a missing topic can auto-create it on some brokers."""
    admin = AIOKafkaAdminClient(**client_kwargs(settings))
    await admin.start()
    try:
        if topic not in await admin.list_topics():
            return []
        (description,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return sorted(p["partition"] for p in description.get("partitions", []))


async def existing_partitions(settings: KafkaSettings, topic: str) -> list[int]:
    partitions = await topic_partitions(settings, topic)
    if not partitions:
        raise RuntimeError(f"topic {topic} does not exist")
    return partitions

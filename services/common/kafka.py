"""The one Kafka broker factory every service uses, and reliable consumption on top of it.

Delivery semantics (verified against the real broker in tests/integration/test_delivery.py):
- Producer: idempotent (`enable_idempotence=True`, acks=all), so producer retries never duplicate.
- Consumer: `AckPolicy.NACK_ON_ERROR`: the offset is committed only after the handler returned;
  a handler that raises is sought back and redelivered. FastStream's default (ACK_FIRST) commits
  before the handler runs and `AckPolicy.ACK` commits even on error, so neither is at-least-once.
- `reliable_subscriber` never lets an ordinary failure reach that redelivery loop: it decodes the
  record itself, retries failures with exponential backoff (`retrying`: a few tries, or for as
  long as the outage budget while an API is down), and after the budget (or at once, for bad
  input) publishes the record to `<topic>.dlq` with the reason, then commits. Only a
  failure to write the dead letter itself propagates, so nothing is ever dropped.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from aiokafka.admin import AIOKafkaAdminClient
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512
from pydantic import BaseModel, TypeAdapter, ValidationError
from tenacity import AsyncRetrying, RetryCallState, retry_if_not_exception_type
from tenacity import wait_exponential_jitter as backoff

from schemas.topics import dlq_name, ensure_topics
from services.clients.http import is_transient
from services.common.logging import get_logger
from services.common.settings import KafkaSettings, RetrySettings

log = get_logger(__name__)

T = TypeVar("T")
Handler = Callable[[T, KafkaMessage], Awaitable[None]]


class Permanent(Exception):
    """The record can never succeed as it is (bad data): dead-letter it without retrying."""


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


def make_broker(settings: KafkaSettings, *, client_id: str) -> KafkaBroker:
    return KafkaBroker(
        settings.bootstrap_servers,
        client_id=client_id,
        enable_idempotence=True,
        request_timeout_ms=settings.request_timeout_ms,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        security=make_security(settings),
        graceful_timeout=20.0,
        # FastStream's "Received"/"Processed" line per record drowned everything else in the
        # demo: they go out at DEBUG, below what its access logger prints. Handler errors are
        # still logged as errors.
        log_level=logging.DEBUG,
    )


async def publish_event(broker: KafkaBroker, topic: str, key: str, event: BaseModel) -> None:
    await broker.publish(
        event.model_dump_json().encode(),
        topic,
        key=key.encode(),
        headers={"content-type": "application/json", "event-type": _event_type(event)},
    )


def _event_type(event: BaseModel) -> str:
    return str(getattr(event, "type", type(event).__name__))


def reliable_subscriber(
    broker: KafkaBroker,
    topic: str,
    *,
    group_id: str,
    model: type[T] | TypeAdapter[T],
    retry: RetrySettings,
    handler: Handler[T],
    **subscriber_options: Any,
) -> Any:
    """Subscribe `handler` with decode, bounded retry with backoff, and dead letters."""
    adapter: TypeAdapter[T] = model if isinstance(model, TypeAdapter) else TypeAdapter(model)
    dead_letters = dlq_name(topic)

    async def consume(msg: KafkaMessage) -> None:
        record = record_of(msg)
        origin = f"{record.topic}/{record.partition}/{record.offset}"
        try:
            event = adapter.validate_json(msg.body)
        except ValidationError as exc:
            await _dead_letter(broker, dead_letters, msg, f"invalid record: {_brief(exc)}", 0)
            return
        attempts = 0
        try:
            async for attempt in retrying(retry):
                with attempt:
                    attempts = attempt.retry_state.attempt_number
                    await handler(event, msg)
        except Exception as exc:  # every failure ends in a dead letter, with its reason
            log.warning("dead-lettering record", origin=origin, attempts=attempts, reason=str(exc))
            await _dead_letter(broker, dead_letters, msg, f"{type(exc).__name__}: {exc}", attempts)

    return broker.subscriber(
        topic,
        group_id=group_id,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        # A handler waiting out an outage does not poll: without this the group would drop
        # the consumer after aiokafka's 5 minutes, and the record would be redelivered anyway.
        max_poll_interval_ms=int((retry.outage_budget_s + 2 * retry.max_backoff_s + 60) * 1000),
        **subscriber_options,
    )(consume)


def retrying(retry: RetrySettings) -> AsyncRetrying:
    """The retry policy of one record: `attempts` tries for a failure of the record itself
    (an unknown SKU), but while the API it needs is down (5xx, 429, timeouts) it keeps trying for
    `outage_budget_s`. Nothing else could get through meanwhile, and dead-lettering every sale of
    an outage would leave the operator to re-drive all of them. `Permanent` is never retried."""

    def give_up(state: RetryCallState) -> bool:
        failure = state.outcome.exception() if state.outcome else None
        if failure is not None and is_transient(failure):
            return (state.seconds_since_start or 0) >= retry.outage_budget_s
        return state.attempt_number >= retry.attempts

    return AsyncRetrying(
        stop=give_up,
        wait=backoff(multiplier=retry.initial_backoff_s, max=retry.max_backoff_s, jitter=0.2),
        retry=retry_if_not_exception_type(Permanent),
        reraise=True,
    )


def record_of(msg: KafkaMessage) -> Any:
    """The aiokafka ConsumerRecord behind a (non-batch) message."""
    return msg.raw_message


def _brief(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in exc.errors()
    )[:1000]


async def _dead_letter(
    broker: KafkaBroker, topic: str, msg: KafkaMessage, reason: str, attempts: int
) -> None:
    record = record_of(msg)
    headers = {k: v.decode(errors="replace") for k, v in (record.headers or ())}
    headers.update(
        {
            "x-dlq-reason": reason[:2000],
            "x-dlq-origin-topic": record.topic,
            "x-dlq-origin": f"{record.topic}/{record.partition}/{record.offset}",
            "x-dlq-attempts": str(attempts),
            "x-dlq-failed-at": datetime.now(UTC).isoformat(),
        }
    )
    try:
        await broker.publish(record.value, topic, key=record.key, headers=headers)
    except Exception:
        # Not committing is the only safe answer: NACK redelivers. Pause so it is not a hot loop.
        log.error("could not write dead letter; record stays uncommitted", topic=topic)
        await asyncio.sleep(2)
        raise

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
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import BaseModel, TypeAdapter, ValidationError
from tenacity import AsyncRetrying, RetryCallState, retry_if_not_exception_type
from tenacity import wait_exponential_jitter as backoff

from schemas.topics import dlq_name
from services.clients.http import is_transient
from services.common.connection import Broker, make_security
from services.common.dead_letters import Failure, decoded_headers, write_dead_letter
from services.common.logging import get_logger
from services.common.metrics import RECORD_RETRIES, broker_middlewares
from services.common.settings import KafkaSettings, RetrySettings

log = get_logger(__name__)

T = TypeVar("T")
Handler = Callable[[T, KafkaMessage], Awaitable[None]]


class Permanent(Exception):
    """The record can never succeed as it is (bad data): dead-letter it without retrying."""


_SETTINGS: weakref.WeakKeyDictionary[KafkaBroker, KafkaSettings] = weakref.WeakKeyDictionary()
"""The settings each broker was made with: the dead-letter writer reads its topic with them."""


def make_broker(settings: KafkaSettings, *, client_id: str) -> KafkaBroker:
    broker = KafkaBroker(
        settings.bootstrap_servers,
        client_id=client_id,
        enable_idempotence=True,
        request_timeout_ms=settings.request_timeout_ms,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        security=make_security(settings),
        middlewares=broker_middlewares(client_id),
        graceful_timeout=20.0,
        # FastStream's "Received"/"Processed" line per record drowned everything else in the
        # demo: they go out at DEBUG, below what its access logger prints. Handler errors are
        # still logged as errors.
        log_level=logging.DEBUG,
    )
    _SETTINGS[broker] = settings
    return broker


async def publish_event(broker: Broker, topic: str, key: str, event: BaseModel) -> None:
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
    return broker.subscriber(
        topic,
        group_id=group_id,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        max_poll_interval_ms=max_poll_interval_ms(retry),
        **subscriber_options,
    )(reliable_handler(broker, topic, model=model, retry=retry, handler=handler))


def max_poll_interval_ms(retry: RetrySettings) -> int:
    """A handler waiting out an outage does not poll: without this the group would drop the
    consumer after aiokafka's 5 minutes, and the record would be redelivered anyway."""
    return int((retry.outage_budget_s + 2 * retry.max_backoff_s + 60) * 1000)


def reliable_handler(
    broker: KafkaBroker,
    topic: str,
    *,
    model: type[T] | TypeAdapter[T],
    retry: RetrySettings,
    handler: Handler[T],
) -> Callable[[KafkaMessage], Awaitable[None]]:
    """Decode a record, run `handler` with bounded retry and backoff, and dead-letter it when
    that fails. Raises only when the dead letter itself cannot be written."""
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
                    if attempts > 1:
                        RECORD_RETRIES.labels(topic).inc()
                    await handler(event, msg)
        except Exception as exc:  # every failure ends in a dead letter, with its reason
            log.warning("dead-lettering record", origin=origin, attempts=attempts, reason=str(exc))
            await _dead_letter(broker, dead_letters, msg, f"{type(exc).__name__}: {exc}", attempts)

    return consume


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
    failure = Failure(record.topic, record.partition, record.offset, reason, attempts)
    try:
        await write_dead_letter(
            broker,
            failure,
            key=record.key,
            value=record.value,
            headers=decoded_headers(record),
            kafka=_SETTINGS.get(broker),
        )
    except Exception:
        # Not committing is the only safe answer: NACK redelivers. Pause so it is not a hot loop.
        log.error("could not write dead letter; record stays uncommitted", topic=topic)
        await asyncio.sleep(2)
        raise

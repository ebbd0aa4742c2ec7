"""Prometheus metrics: the one place every service's `/metrics` figures are defined.

Conventions of that ecosystem: counters end in `_total`, durations are histograms in seconds,
labels have few values (a topic, an API, an endpoint *template*, a status class; never a
basket, SKU or order number). One service runs per process, so the default registry is the
service's registry.

What records the figures:
- FastStream's own Prometheus middleware (`broker_middlewares`, used by `make_broker`): records
  consumed and published per topic, handler duration, handler exceptions.
- `reliable_subscriber` and `write_dead_letter`: retries and dead letters.
- `ApiClient` (`observe_upstream`, `rate_limit_wait`): every upstream call and every wait.
- `lags.LagSampler`, started by the runtime: consumer lag per partition of the service's own groups
  and the age of the oldest record they have not processed.
- The services: sale-to-order latency, stock-change-to-Shopbox latency, pushes, coalescing.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from prometheus_client import REGISTRY, Counter, Gauge, Histogram

# Latencies of one pipeline hop: from sub-second to the outage budget (minutes).
_PIPELINE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600)
_HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

DEAD_LETTERS = Counter(
    "sync_dead_letters_written_total",
    "Records written to a dead-letter topic, by origin topic",
    ["topic"],
)
RECORD_RETRIES = Counter(
    "sync_record_retries_total",
    "Retries of a record's handler after a failure (not counting the first try), by topic",
    ["topic"],
)
UPSTREAM_REQUESTS = Counter(
    "sync_upstream_requests_total",
    "HTTP calls to Shopbox or Rackbeat, by API, method, endpoint template and status class",
    ["api", "method", "endpoint", "status_class"],
)
UPSTREAM_DURATION = Histogram(
    "sync_upstream_request_duration_seconds",
    "Duration of one HTTP call to Shopbox or Rackbeat",
    ["api", "method", "endpoint"],
    buckets=_HTTP_BUCKETS,
)
UPSTREAM_RETRIES = Counter(
    "sync_upstream_retries_total", "Retries of an upstream call (5xx, 429, timeout)", ["api"]
)
UPSTREAM_LAST_SUCCESS = Gauge(
    "sync_upstream_last_success_timestamp_seconds",
    "Unix time of the last upstream call answered below 500 (and not 429)",
    ["api"],
)
UPSTREAM_LAST_FAILURE = Gauge(
    "sync_upstream_last_failure_timestamp_seconds",
    "Unix time of the last upstream call that failed (5xx, 429 or no answer)",
    ["api"],
)
RATE_LIMIT_WAITS = Counter(
    "sync_rate_limit_waits_total",
    "Waits for a rate limit: our own limiter (client) or the API's 429 Retry-After (server)",
    ["api", "source"],
)
RATE_LIMIT_WAIT_SECONDS = Counter(
    "sync_rate_limit_wait_seconds_total",
    "Seconds spent waiting for a rate limit",
    ["api", "source"],
)
CONSUMER_LAG = Gauge(
    "sync_consumer_lag_records",
    "Records a consumer group of this service has not committed yet, per partition",
    ["group", "topic", "partition"],
)
CONSUMER_OLDEST_AGE = Gauge(
    "sync_consumer_oldest_waiting_age_seconds",
    "Age of the oldest record a consumer group has not processed yet (0 when caught up)",
    ["group", "topic"],
)
LAG_SAMPLE_FAILURES = Counter(
    "sync_consumer_lag_sample_failures_total", "Lag samples that could not be read from Kafka"
)
SALE_TO_ORDER = Histogram(
    "sync_sale_to_order_seconds",
    "From the sale at the Shopbox register to its order handled in Rackbeat",
    buckets=_PIPELINE_BUCKETS,
)
STOCK_TO_SHOPBOX = Histogram(
    "sync_stock_change_to_shopbox_seconds",
    "From a stock figure observed in Rackbeat to the same figure written to Shopbox",
    ["reason"],
    buckets=_PIPELINE_BUCKETS,
)
STOCK_PUSHES = Counter(
    "sync_stock_pushes_total", "Stock figures written to Shopbox, by reason", ["reason"]
)
STOCK_COALESCED = Counter(
    "sync_stock_coalesced_total",
    "Stock observations not written on their own: replaced by a newer one of the same key "
    "while buffered (coalesced) or older than what was already applied (stale)",
    ["kind"],
)


def broker_middlewares(app_name: str) -> Sequence[Any]:
    """FastStream's Prometheus middleware (consumed/published per topic, handler duration)."""
    return (KafkaPrometheusMiddleware(registry=REGISTRY, app_name=app_name),)


def endpoint_template(path: str) -> str:
    """`orders/1042/book` -> `orders/{id}/book`: both APIs alternate collection and id
    (`items/{id}/locations`, `products/{id}/variation-matrix`), so every second segment is an
    id, an item number or a uid and never goes into a label."""
    parts = [p for p in path.split("?")[0].strip("/").split("/") if p]
    return "/" + "/".join(p if i % 2 == 0 else "{id}" for i, p in enumerate(parts))


def status_class(status: int | None) -> str:
    return "error" if status is None else f"{status // 100}xx"


def observe_upstream(api: str, method: str, path: str, status: int | None, seconds: float) -> None:
    endpoint = endpoint_template(path)
    UPSTREAM_REQUESTS.labels(api, method, endpoint, status_class(status)).inc()
    UPSTREAM_DURATION.labels(api, method, endpoint).observe(seconds)
    failed = status is None or status >= 500 or status == 429
    (UPSTREAM_LAST_FAILURE if failed else UPSTREAM_LAST_SUCCESS).labels(api).set(time.time())


def rate_limit_wait(api: str, source: str, seconds: float) -> None:
    RATE_LIMIT_WAITS.labels(api, source).inc()
    RATE_LIMIT_WAIT_SECONDS.labels(api, source).inc(max(seconds, 0.0))


def seconds_since(moment: datetime) -> float:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max((datetime.now(UTC) - moment).total_seconds(), 0.0)

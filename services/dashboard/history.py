"""The last hour of the services' own /metrics, kept in memory by the dashboard: what its charts
and the upstream health are drawn from. No Prometheus is needed for the page; the dashboard
scrapes the services it already checks, at most every `min_spacing_s`.

A counter is cumulative in the process that exports it: per interval the chart takes the
increase between two scrapes, and a decrease (the service restarted) counts as a fresh start.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

import httpx
from prometheus_client.parser import text_string_to_metric_families

# Which services feed which direction's charts.
DIRECTION_SERVICES = {"sales": ("order-ingest", "order-writer"), "stock": ("stock-publisher",)}
LATENCY = {"sales": "sync_sale_to_order_seconds", "stock": "sync_stock_change_to_shopbox_seconds"}
THROUGHPUT = {"sales": "sync_sale_to_order_seconds_count", "stock": "sync_stock_pushes_total"}
APIS = ("Shopbox", "Rackbeat")


@dataclass(frozen=True)
class Scrape:
    """One service's figures at one moment, reduced to what the page draws."""

    throughput: float = 0.0
    lag: float = 0.0
    buckets: dict[float, float] = field(default_factory=dict)  # le -> cumulative count
    calls: dict[str, float] = field(default_factory=dict)  # api -> calls
    errors: dict[str, float] = field(default_factory=dict)  # api -> 5xx / 429 / no answer
    last_success: dict[str, float] = field(default_factory=dict)
    last_failure: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Moment:
    at: float
    scrapes: dict[str, Scrape]  # by service name; a service that did not answer is absent


def parse(text: str, direction: str | None) -> Scrape:
    throughput, lag = 0.0, 0.0
    buckets: dict[float, float] = {}
    calls: dict[str, float] = {}
    errors: dict[str, float] = {}
    success: dict[str, float] = {}
    failure: dict[str, float] = {}
    latency = f"{LATENCY[direction]}_bucket" if direction else None
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            api = s.labels.get("api", "")
            if direction and s.name == THROUGHPUT[direction]:
                throughput += s.value
            elif s.name == "sync_consumer_lag_records":
                lag += s.value
            elif s.name == latency:
                le = float(s.labels["le"])
                buckets[le] = buckets.get(le, 0.0) + s.value
            elif s.name == "sync_upstream_requests_total":
                calls[api] = calls.get(api, 0.0) + s.value
                failed = s.labels.get("status_class") in {"5xx", "error"}
                errors[api] = errors.get(api, 0.0) + (s.value if failed else 0.0)
            elif s.name == "sync_upstream_last_success_timestamp_seconds":
                success[api] = max(success.get(api, 0.0), s.value)
            elif s.name == "sync_upstream_last_failure_timestamp_seconds":
                failure[api] = max(failure.get(api, 0.0), s.value)
    return Scrape(throughput, lag, buckets, calls, errors, success, failure)


def direction_of(service: str) -> str | None:
    return next((d for d, names in DIRECTION_SERVICES.items() if service in names), None)


def increase(before: float, after: float) -> float:
    return after if after < before else after - before


def quantile(q: float, buckets: dict[float, float]) -> float | None:
    """Prometheus' histogram_quantile over cumulative bucket counts (upper bound of the bucket
    reached, interpolated linearly inside it)."""
    ordered = sorted(buckets.items())
    total = ordered[-1][1] if ordered else 0.0
    if total <= 0:
        return None
    rank, lower, below = q * total, 0.0, 0.0
    for le, count in ordered:
        if count >= rank:
            if le == float("inf"):
                return lower
            inside = count - below
            return lower + (le - lower) * ((rank - below) / inside if inside else 1.0)
        lower, below = le, count
    return lower


@dataclass(frozen=True)
class Point:
    at: float
    value: float | None


@dataclass(frozen=True)
class Series:
    title: str
    unit: str
    lines: dict[str, list[Point]]  # legend -> points


@dataclass(frozen=True)
class Health:
    api: str
    last_success: float | None
    last_failure: float | None
    error_rate: float | None  # errors / calls over the kept window
    calls: float

    @property
    def failing_since(self) -> float | None:
        """The API has failed since its last success (or ever, if it never succeeded)."""
        if self.last_failure is None:
            return None
        if self.last_success is None or self.last_failure > self.last_success:
            return self.last_success or self.last_failure
        return None


class MetricsHistory:
    def __init__(self, window_s: float = 3600.0, min_spacing_s: float = 10.0) -> None:
        self.window_s, self.min_spacing_s = window_s, min_spacing_s
        self.moments: deque[Moment] = deque()

    def due(self, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        return not self.moments or now - self.moments[-1].at >= self.min_spacing_s

    async def sample(self, client: httpx.AsyncClient, urls: dict[str, str]) -> None:
        if not self.due():
            return
        scrapes: dict[str, Scrape] = {}
        for name, url in urls.items():
            try:
                response = await client.get(f"{url}/metrics", timeout=2.0)
                if response.status_code == 200:
                    scrapes[name] = parse(response.text, direction_of(name))
            except (httpx.HTTPError, ValueError):
                continue  # shown as down by the health check; a gap in the chart here
        self.add(Moment(time.time(), scrapes))

    def add(self, moment: Moment) -> None:
        self.moments.append(moment)
        while self.moments and moment.at - self.moments[0].at > self.window_s:
            self.moments.popleft()

    def pairs(self) -> Iterable[tuple[Moment, Moment]]:
        return itertools.pairwise(self.moments)

    def charts(self, direction: str) -> list[Series]:
        names = DIRECTION_SERVICES[direction]
        per_min: list[Point] = []
        lag: list[Point] = []
        p50: list[Point] = []
        p99: list[Point] = []
        errors: dict[str, list[Point]] = {api: [] for api in APIS}
        for before, after in self.pairs():
            minutes = max((after.at - before.at) / 60, 1e-9)
            both = [n for n in names if n in before.scrapes and n in after.scrapes]
            done = sum(
                increase(before.scrapes[n].throughput, after.scrapes[n].throughput) for n in both
            )
            per_min.append(Point(after.at, done / minutes if both else None))
            present = [after.scrapes[n] for n in names if n in after.scrapes]
            lag.append(Point(after.at, sum(s.lag for s in present) if present else None))
            delta = _bucket_increase([(before.scrapes[n], after.scrapes[n]) for n in both])
            p50.append(Point(after.at, quantile(0.5, delta)))
            p99.append(Point(after.at, quantile(0.99, delta)))
            for api in APIS:
                failed = sum(
                    increase(
                        before.scrapes[n].errors.get(api, 0), after.scrapes[n].errors.get(api, 0)
                    )
                    for n in both
                )
                errors[api].append(Point(after.at, failed / minutes if both else None))
        unit = "orders/min" if direction == "sales" else "writes/min"
        return [
            Series("throughput", unit, {unit: per_min}),
            Series("consumer lag", "records", {"lag": lag}),
            Series("latency", "s", {"p50": p50, "p99": p99}),
            Series("upstream errors", "per min", errors),
        ]

    def health(self) -> list[Health]:
        if not self.moments:
            return []
        first, last = self.moments[0], self.moments[-1]
        result = []
        for api in APIS:
            successes = [
                s.last_success[api] for s in last.scrapes.values() if s.last_success.get(api)
            ]
            failures = [
                s.last_failure[api] for s in last.scrapes.values() if s.last_failure.get(api)
            ]
            calls = errors = 0.0
            for name, now in last.scrapes.items():
                then = first.scrapes.get(name, Scrape()) if first is not last else Scrape()
                calls += increase(then.calls.get(api, 0), now.calls.get(api, 0))
                errors += increase(then.errors.get(api, 0), now.errors.get(api, 0))
            result.append(
                Health(
                    api,
                    max(successes) if successes else None,
                    max(failures) if failures else None,
                    errors / calls if calls else None,
                    calls,
                )
            )
        return result


def _bucket_increase(pairs: list[tuple[Scrape, Scrape]]) -> dict[float, float]:
    delta: dict[float, float] = {}
    for before, after in pairs:
        for le, count in after.buckets.items():
            delta[le] = delta.get(le, 0.0) + increase(before.buckets.get(le, 0.0), count)
    return delta

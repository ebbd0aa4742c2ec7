"""The dashboard's last hour, from the services' /metrics text: rates per minute across a
restart, percentiles from histogram buckets, upstream health, and the SVG charts drawn."""

from __future__ import annotations

from datetime import UTC, datetime

from services.dashboard.charts import number
from services.dashboard.history import MetricsHistory, Moment, parse, quantile
from services.dashboard.overview import Limits, assemble
from services.dashboard.render import render_page
from tests.unit.test_dashboard_overview import readings


def writer_text(
    orders: int, le_1: int, rackbeat_5xx: int, success_at: float, fail_at: float
) -> str:
    return f"""
# TYPE sync_sale_to_order_seconds histogram
sync_sale_to_order_seconds_bucket{{le="0.5"}} 0
sync_sale_to_order_seconds_bucket{{le="1.0"}} {le_1}
sync_sale_to_order_seconds_bucket{{le="+Inf"}} {orders}
sync_sale_to_order_seconds_count {orders}
sync_sale_to_order_seconds_sum {orders}
# TYPE sync_upstream_requests_total counter
sync_upstream_requests_total{{api="Rackbeat",status_class="2xx"}} {orders}
sync_upstream_requests_total{{api="Rackbeat",status_class="5xx"}} {rackbeat_5xx}
# TYPE sync_upstream_last_success_timestamp_seconds gauge
sync_upstream_last_success_timestamp_seconds{{api="Rackbeat"}} {success_at}
# TYPE sync_upstream_last_failure_timestamp_seconds gauge
sync_upstream_last_failure_timestamp_seconds{{api="Rackbeat"}} {fail_at}
# TYPE sync_consumer_lag_records gauge
sync_consumer_lag_records{{group="g",topic="t",partition="0"}} 3
"""


def history() -> MetricsHistory:
    h = MetricsHistory()
    t0 = 1_800_000_000.0
    texts = [
        writer_text(0, 0, 0, t0 - 5, 0),
        writer_text(60, 60, 0, t0 + 50, 0),  # 60 orders in one minute, all within 1 s
        writer_text(10, 0, 4, t0 + 60, t0 + 110),  # restarted: 10 since, 4 Rackbeat errors
    ]
    for i, text in enumerate(texts):
        h.add(Moment(t0 + 60 * i, {"order-writer": parse(text, "sales")}))
    return h


def test_rates_per_minute_survive_a_restart_and_percentiles_come_from_buckets() -> None:
    throughput, lag, latency, errors = history().charts("sales")
    assert [p.value for p in throughput.lines["orders/min"]] == [60, 10]
    assert [p.value for p in lag.lines["lag"]] == [3, 3]
    p50 = latency.lines["p50"][0].value
    assert p50 is not None and 0.5 < p50 <= 1.0
    assert latency.lines["p99"][1].value == 1.0  # above the last finite bucket: its bound
    assert [p.value for p in errors.lines["Rackbeat"]] == [0, 4]


def test_upstream_failing_since_its_last_success() -> None:
    rackbeat = next(h for h in history().health() if h.api == "Rackbeat")
    assert rackbeat.last_failure == 1_800_000_110.0
    assert rackbeat.failing_since == 1_800_000_060.0
    assert rackbeat.error_rate is not None and rackbeat.calls > 0


def test_quantile_of_nothing_is_none() -> None:
    assert quantile(0.5, {}) is None
    assert quantile(0.5, {1.0: 0, float("inf"): 0}) is None


def test_one_number_format() -> None:
    assert [number(v) for v in (0, 15, 10.0, 1234.0, 0.1234, 12.34, None)] == [
        "0",
        "15",
        "10",
        "1,234",
        "0.12",
        "12.3",
        "n/a",
    ]


def test_the_page_draws_the_charts_and_upstream_health() -> None:
    now = datetime.fromtimestamp(1_800_000_130, UTC)
    overview = assemble(readings(), Limits(20, 10, 100, 120), now)
    page = render_page(overview, 5, history())
    assert page.count("<svg") == 8  # four charts for sales, four for stock
    assert "data-series='throughput' data-points='2'" in page  # sales has data
    assert "no data yet" in page  # stock has none
    assert "data-upstream='Rackbeat'>failing</span>" in page


def test_sku_problems_are_listed_with_reason_and_where_to_fix_and_commands_fit_the_context() -> (
    None
):
    from services.dashboard.overview import ServiceCheck
    from tests.unit.test_dashboard_overview import all_ready, letter

    mapper = ServiceCheck(
        name="item-mapper",
        url="http://item-mapper",
        state="ready",
        status={
            "item_master": "shopbox",
            "sku_problems": 1,
            "sku_problem_list": [{"sku": "BRD-<9>", "problem": "SKU used by two products"}],
        },
    )
    services = [c for c in all_ready() if c.name != "item-mapper"] + [mapper]
    letters = [letter(3, "MissingBinding")]
    limits = Limits(20, 10, 100, 120, syncctl="docker compose exec dashboard syncctl")
    overview = assemble(
        readings(services=services, dead_letters=letters, depths={letters[0].topic: 1}),
        limits,
        datetime.fromtimestamp(1_800_000_130, UTC),
    )
    page = render_page(overview, 5, MetricsHistory())
    assert "<td>BRD-&lt;9&gt;</td><td>SKU used by two products</td>" in page
    assert "Shopbox (item master)" in page
    assert "KAFKA_TOPIC_NAMESPACE=t1. docker compose exec dashboard syncctl dlq redrive" in page

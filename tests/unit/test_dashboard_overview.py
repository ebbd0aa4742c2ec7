"""services/dashboard/overview.py and render.py: what each direction shows and when it is marked
down or needing attention, the re-drive command, parsing of ledger and push records, escaping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas.stock import StockPushed
from services.common.dead_letters import DeadLetter
from services.common.lags import GroupLag
from services.dashboard.overview import (
    DIRECTIONS,
    Limits,
    RawRecord,
    Readings,
    ServiceCheck,
    ago,
    assemble,
    dead_letter_row,
    order_row,
    push_row,
    redrive_command,
)
from services.dashboard.render import render_page
from tests.unit.test_audit_lines import NOW, order, push

NS = "t1."


def ready(name: str) -> ServiceCheck:
    return ServiceCheck(name=name, url=f"http://{name}", state="ready", status={"x": 1})


def all_ready() -> list[ServiceCheck]:
    return [ready(n) for d in DIRECTIONS for n in d.services]


def letter(offset: int, reason: str, seconds_ago: int = 0) -> DeadLetter:
    at = NOW - timedelta(seconds=seconds_ago)
    return DeadLetter(
        topic=f"{NS}shopbox.sales.v1.dlq",
        partition=1,
        offset=offset,
        key=b"basket-9",
        value=b"{}",
        headers={
            "x-dlq-reason": reason,
            "x-dlq-origin-topic": f"{NS}shopbox.sales.v1",
            "x-dlq-origin": f"{NS}shopbox.sales.v1/1/{offset + 40}",
            "x-dlq-failed-at": at.isoformat(),
        },
        timestamp_ms=int(at.timestamp() * 1000),
    )


def readings(**overrides: object) -> Readings:
    base = Readings(
        namespace=NS,
        services=all_ready(),
        lags=[],
        depths={},
        redriven={},
        dead_letters=[],
        orders=[],
        pushes=[],
    )
    for key, value in overrides.items():
        setattr(base, key, value)
    return base


def record(value: bytes, key: bytes = b"k", at: datetime = NOW) -> RawRecord:
    return RawRecord(key=key, value=value, timestamp_ms=int(at.timestamp() * 1000))


def test_every_service_and_consumed_topic_belongs_to_exactly_one_direction() -> None:
    services = [s for d in DIRECTIONS for s in d.services]
    assert sorted(services) == ["item-mapper", "order-ingest", "order-writer", "stock-publisher"]
    dlqs = [t for d in DIRECTIONS for t in d.dead_letter_topics]
    assert sorted(dlqs) == [
        "rackbeat.products.v1.dlq",
        "rackbeat.stock.v1.dlq",
        "shopbox.products.v1.dlq",
        "shopbox.sales.v1.dlq",
    ]


def test_all_ready_and_nothing_waiting_is_ok() -> None:
    overview = assemble(readings(), Limits(), NOW)
    assert {v.name: v.state for v in overview.directions.values()} == {
        "sales": "ok",
        "stock": "ok",
        "items": "ok",
    }
    assert all(v.problems == [] for v in overview.directions.values())


def test_a_service_that_is_down_or_not_ready_marks_its_direction_down_with_the_reason() -> None:
    checks = all_ready()
    checks[1] = ServiceCheck(
        name="order-writer", url="u", state="down", reasons=["unreachable: refused"]
    )
    checks[2] = ServiceCheck(
        name="stock-publisher", url="u", state="not ready", reasons=["tables loading"]
    )
    views = assemble(readings(services=checks), Limits(), NOW).directions
    assert views["sales"].state == "down"
    assert views["sales"].problems == ["order-writer is down: unreachable: refused"]
    assert views["stock"].problems == ["stock-publisher is not ready: tables loading"]
    assert views["items"].state == "ok"


def test_an_upstream_outage_marks_the_direction_degraded_naming_the_upstream() -> None:
    failing = "Rackbeat failing since 2026-12-02T15:00:00+00:00 (12 errors, last 500)"
    checks = all_ready()
    checks[1] = ServiceCheck(
        name="order-writer",
        url="u",
        state="not ready",
        reasons=[failing],
        status={"upstream_failing": [failing]},
    )
    views = assemble(readings(services=checks), Limits(), NOW).directions
    assert views["sales"].state == "degraded"
    assert views["sales"].problems == [
        f"order-writer degraded: {failing}; its records wait and are retried"
    ]
    assert "degraded" in render_page(assemble(readings(services=checks), Limits(), NOW), 5)


def test_waiting_dead_letters_and_big_lag_need_attention_re_driven_ones_do_not() -> None:
    dlq = f"{NS}shopbox.sales.v1.dlq"
    lags = [
        GroupLag(f"{NS}order-writer", f"{NS}shopbox.sales.v1", 10, 15),
        GroupLag(f"{NS}item-mapper.shopbox-master", f"{NS}shopbox.products.v1", 0, 7),
    ]
    data = readings(
        depths={dlq: 3, f"{NS}rackbeat.stock.v1.dlq": 1},
        redriven={dlq: {"1/0"}, f"{NS}rackbeat.stock.v1.dlq": {"0/0"}},
        lags=lags,
    )
    views = assemble(data, Limits(lag_warning=7), NOW).directions
    assert views["sales"].state == "attention"
    assert views["sales"].problems == ["2 dead letters waiting in shopbox.sales.v1.dlq"]
    assert [(d.records, d.waiting) for d in views["sales"].dead_letter_depths] == [(3, 2)]
    assert [(r.topic, r.lag) for r in views["sales"].lags] == [("shopbox.sales.v1", 5)]
    assert views["stock"].state == "ok"  # its one dead letter was re-driven
    assert views["items"].problems == [
        f"group {NS}item-mapper.shopbox-master is 7 records behind on shopbox.products.v1"
    ]


def test_a_record_waiting_longer_than_the_age_limit_needs_attention_a_younger_one_not() -> None:
    lags = [
        GroupLag(f"{NS}order-writer", f"{NS}shopbox.sales.v1", 10, 11, NOW - timedelta(minutes=5)),
        GroupLag(
            f"{NS}stock-publisher", f"{NS}rackbeat.stock.v1", 4, 5, NOW - timedelta(seconds=90)
        ),
    ]
    views = assemble(readings(lags=lags), Limits(lag_age_warning_s=120), NOW).directions
    assert views["sales"].problems == [
        f"group {NS}order-writer: the oldest unprocessed record on shopbox.sales.v1 arrived "
        "5 min ago"
    ]
    assert [r.waiting_s for r in views["sales"].lags] == [300.0]
    assert views["stock"].state == "ok" and views["stock"].problems == []
    page = render_page(assemble(readings(lags=lags), Limits(), NOW), refresh_s=5)
    assert "oldest waiting" in page and "5 min ago</span>" in page


def test_kafka_unreachable_marks_every_direction_down() -> None:
    overview = assemble(readings(kafka_error="127.0.0.1:1: refused"), Limits(), NOW)
    for view in overview.directions.values():
        assert view.state == "down"
        assert view.problems[0] == "Kafka: 127.0.0.1:1: refused"


def test_dead_letter_row_names_the_source_and_the_exact_redrive_command() -> None:
    row = dead_letter_row(letter(3, "MissingBinding: no item"), NS, redriven=set())
    assert row.topic == "shopbox.sales.v1.dlq" and row.source_topic == "shopbox.sales.v1"
    assert row.position == "1/3" and row.key == "basket-9"
    assert row.origin == "shopbox.sales.v1/1/43"
    assert row.failed_at == NOW and row.reason == "MissingBinding: no item"
    assert row.command == (
        "KAFKA_TOPIC_NAMESPACE=t1. syncctl dlq redrive --topic shopbox.sales.v1 --offset 1/3"
    )
    assert redrive_command("rackbeat.stock.v1", "0/2", "") == (
        "syncctl dlq redrive --topic rackbeat.stock.v1 --offset 0/2"
    )
    assert dead_letter_row(letter(3, "r"), NS, redriven={"1/3"}).redriven


def test_newest_dead_letters_first_and_limited() -> None:
    letters = [letter(i, f"reason {i}", seconds_ago=100 - i) for i in range(5)]
    view = assemble(readings(dead_letters=letters), Limits(dead_letters_shown=3), NOW)
    assert [d.reason for d in view.directions["sales"].dead_letters] == [
        "reason 4",
        "reason 3",
        "reason 2",
    ]


def test_order_and_push_rows() -> None:
    row = order_row(record(order().model_dump_json().encode()))
    assert (row.subject, row.outcome, row.detail) == (
        "basket b-7",
        "created",
        "Rackbeat order 1001, booked",
    )
    pushed, branch = push_row(record(push().model_dump_json().encode()))
    assert branch == "1"
    assert (pushed.subject, pushed.outcome) == ("SKU KAFFE-1 @ branch 1", "set to 7 (was unknown)")


def test_an_unreadable_record_is_shown_not_dropped() -> None:
    row = order_row(record(b"not json", key=b"b-9"))
    assert not row.valid and row.subject == "b-9" and row.outcome == "unreadable"
    assert row.detail  # the parse error


def pushed_at(at: datetime, branch: str) -> StockPushed:
    event = push()
    payload = event.payload.model_copy(update={"pushed_at": at, "branch_id": branch})
    return event.model_copy(update={"payload": payload})


def test_last_success_is_the_newest_valid_record_and_per_branch() -> None:
    early, late = NOW - timedelta(minutes=5), NOW - timedelta(seconds=30)
    p1, p2 = pushed_at(early, branch="1"), pushed_at(late, branch="2")
    data = readings(
        orders=[
            record(order().model_dump_json().encode()),
            record(b"garbage", at=NOW + timedelta(seconds=5)),
        ],
        pushes=[record(p1.model_dump_json().encode()), record(p2.model_dump_json().encode())],
    )
    now = NOW + timedelta(seconds=60)
    views = assemble(data, Limits(), now).directions
    assert views["sales"].last_success_at == NOW
    assert views["sales"].seconds_since_last_success == 60
    assert [r.valid for r in views["sales"].recent] == [False, True]  # newest first
    assert views["stock"].last_success_at == late
    assert views["stock"].last_success_per_branch == {"1": early, "2": late}
    assert views["items"].last_success_label is None


def test_ago() -> None:
    assert [ago(None), ago(5), ago(119), ago(600), ago(7300), ago(3 * 86400)] == [
        "never",
        "5 s ago",
        "119 s ago",
        "10 min ago",
        "2 h ago",
        "3 d ago",
    ]


def test_page_escapes_outside_text_and_shows_the_command() -> None:
    data = readings(
        dead_letters=[letter(0, "<script>alert(1)</script> bad SKU")],
        depths={f"{NS}shopbox.sales.v1.dlq": 1},
    )
    page = render_page(assemble(data, Limits(), datetime.now(UTC)), refresh_s=5)
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; bad SKU" in page
    assert "syncctl dlq redrive --topic shopbox.sales.v1 --offset 1/0" in page
    assert "<meta http-equiv='refresh' content='5'>" in page


def test_sku_problems_reported_by_item_mapper_need_attention_with_a_hint() -> None:
    checks = [
        c
        if c.name != "item-mapper"
        else c.model_copy(update={"status": {"sku_problems": 3, "bindings": 40}})
        for c in all_ready()
    ]
    views = assemble(readings(services=checks), Limits(), NOW).directions
    items = views["items"]
    assert items.state == "attention"
    assert items.sku_problems == 3
    assert items.problems == [
        "3 SKU problems: those items are not synced; fix the SKUs in the master; see syncctl drift"
    ]
    assert views["sales"].state == "ok"
    page = render_page(assemble(readings(services=checks), Limits(), NOW), refresh_s=5)
    assert "SKU problems: <b class='warn'>3</b>" in page

    loading = [
        c if c.name != "item-mapper" else c.model_copy(update={"status": {"sku_problems": None}})
        for c in all_ready()
    ]
    assert assemble(readings(services=loading), Limits(), NOW).directions["items"].state == "ok"


def test_a_cancelled_order_row_says_cancelled_not_not_booked() -> None:
    event = order()
    payload = event.payload.model_copy(
        update={"outcome": "cancelled", "booked": False, "rackbeat_order_number": "1004"}
    )
    row = order_row(
        record(event.model_copy(update={"payload": payload}).model_dump_json().encode())
    )
    assert (row.outcome, row.detail) == ("cancelled", "Rackbeat order 1004, cancelled")
    unbooked = event.payload.model_copy(update={"booked": False})
    row = order_row(
        record(event.model_copy(update={"payload": unbooked}).model_dump_json().encode())
    )
    assert row.detail == "Rackbeat order 1001, not booked"


def test_service_status_renders_as_a_key_value_list_not_a_cut_dict() -> None:
    status = {
        "service": "order-ingest",
        "observed": {"webhooks": 12, "polls": 3, "sweeps": {"last": "<b>now</b>", "runs": 2}},
        "branches": [str(n) for n in range(12)],
        "last_poll_at": None,
    }
    checks = [c if c.name != "order-ingest" else c.model_copy(update={"status": status})
              for c in all_ready()]  # fmt: skip
    page = render_page(assemble(readings(services=checks), Limits(), NOW), refresh_s=5)
    assert "<li>observed: <ul class='kv'><li>webhooks: 12</li><li>polls: 3</li>" in page
    assert "<li>last: &lt;b&gt;now&lt;/b&gt;</li>" in page  # nested, escaped
    assert "0, 1, 2, 3, 4, 5, 6, 7, 8, 9 <span class='muted'>(+2 more)</span>" in page
    assert "last_poll_at: <span class='muted'>none</span>" in page
    assert "{&quot;" not in page and "obs…" not in page  # no raw JSON dicts, nothing cut
    assert "service: order-ingest" not in page

"""Hostile input against both webhook receivers, as real processes over real HTTP.

Hypothesis builds requests from wrong/missing secrets, content types that are not JSON, deep
nesting, bodies over the size limit, lone surrogates, NUL bytes, over-long item numbers, wrong
field types and truncated JSON. Every answer must be a 4xx or 2xx (never 5xx), nothing may be
published from a webhook, no unhandled exception may be logged, and the service must still be
ready afterwards.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.topics import Topics
from services.common.webhook_input import MAX_BODY_BYTES
from tests.e2e.sales_harness import service_env
from tests.e2e.stock_setup import prepare
from tests.e2e.test_sales_ingest import sales_records
from tests.e2e.test_stock_sync import _sources
from tests.fixtures.rackbeat_sim import RackbeatSim
from tests.fixtures.services import RunningService, StartService
from tests.fixtures.shopbox_sim import ShopboxSim

pytestmark = pytest.mark.covers_profiles

EXAMPLES = 250
SECRET = "fuzz-hook-secret"
CONTENT_TYPES = [
    None,
    "application/json",
    "application/json; charset=utf-8",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/xml",
    "application/octet-stream",
]
# Lone surrogates and NUL come in as JSON escapes, which is how a sender can put them in.
hostile_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["\ud800", "a\udfffb", "\x00", "x\x00y", "\u202e", "\n\t", " "]),
    st.integers(min_value=256, max_value=5000).map(lambda n: "X" * n),
)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), hostile_text
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(hostile_text, inner, max_size=4),
    max_leaves=12,
)


def dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=True, allow_nan=True).encode()


def nested(depth: int) -> bytes:
    return b'{"event":' + b"[" * depth + b"]" * depth + b"}"


def bodies(shaped: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[bytes]:
    return st.one_of(
        shaped.map(dumps),
        json_values.map(dumps),
        st.integers(min_value=20, max_value=3000).map(nested),
        st.binary(max_size=200),
        shaped.map(dumps).flatmap(lambda raw: st.integers(0, len(raw)).map(lambda n: raw[:n])),
        st.integers(min_value=MAX_BODY_BYTES, max_value=MAX_BODY_BYTES * 3).map(
            lambda n: b'{"pad":"' + b"a" * n + b'"}'
        ),
        shaped.map(dumps).map(lambda raw: raw.replace(b'"', b'"\x00', 1)),
    )


shopbox_bodies = bodies(
    st.fixed_dictionaries(
        {"event": st.one_of(st.sampled_from(["basket.created", "basket.canceled"]), scalars)},
        optional={"basket_uid": st.one_of(json_values, st.sampled_from(["ab-12", "x" * 65]))},
    )
)
rackbeat_bodies = bodies(
    st.fixed_dictionaries(
        {"event": st.sampled_from(["inventory.changed", "order.created"]) | scalars},
        optional={
            "key": st.one_of(hostile_text, st.integers(), json_values),
            "key_name": st.sampled_from(["number", "id"]) | scalars,
            "data": st.dictionaries(st.sampled_from(["item_number", "number"]), json_values),
        },
    )
)


def fuzz(
    url: str,
    body: st.SearchStrategy[bytes],
    secret_in: str,
    secret: str,
    statuses: Counter[int],
) -> None:
    """Run the hypothesis search in this thread (the service runs in its own process)."""
    with httpx.Client(timeout=10) as http:

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,  # the same requests every run: a failure reproduces
            suppress_health_check=list(HealthCheck),
        )
        @given(
            raw=body,
            content_type=st.sampled_from(CONTENT_TYPES),
            secret_choice=st.sampled_from([secret, secret, secret, "", "wrong", "é\u00ff"]),
            event_header=st.sampled_from([None, "inventory.changed", "order.created"]),
        )
        def one(
            raw: bytes, content_type: str | None, secret_choice: str, event_header: str | None
        ) -> None:
            headers = {"content-type": content_type} if content_type else {}
            params = {}
            if secret_in == "query":
                params = {"shopbox_hook_id": secret_choice}
            else:
                headers["Rackbeat-Webhook-Token"] = secret_choice.encode()  # type: ignore[assignment]
                if event_header:
                    headers["Rackbeat-Webhook-Event"] = event_header
            response = http.post(url, content=raw, headers=headers, params=params)
            statuses[response.status_code] += 1
            assert response.status_code < 500, (response.status_code, response.text[:300], raw)
            if response.status_code >= 400:
                assert response.json()["error"], response.text
            assert secret not in response.text

        one()


def rss_mb(service: RunningService) -> float:
    assert service.popen is not None
    status = Path(f"/proc/{service.popen.pid}/status").read_text()
    kilobytes = next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS"))
    return int(kilobytes) / 1024


def multi_megabyte(url: str, headers: dict[str, str], params: dict[str, str]) -> list[int]:
    """5 MB declared, and 5 MB streamed without a length: both refused before being read."""

    def chunks() -> Iterator[bytes]:
        for _ in range(80):
            yield b"[" * 65536

    with httpx.Client(timeout=30) as http:
        declared = http.post(url, content=b"{" * 5_000_000, headers=headers, params=params)
        streamed = http.post(url, content=chunks(), headers=headers, params=params)
    return [declared.status_code, streamed.status_code]


def assert_clean(service: RunningService) -> None:
    log = service.log_path.read_text(errors="replace")
    assert "Traceback" not in log, service.log_tail(80)
    assert "background task failed" not in log, service.log_tail(80)


async def assert_ready(service: RunningService) -> None:
    async with httpx.AsyncClient() as http:
        ready = await http.get(f"{service.url}/health/ready")
    assert ready.status_code == 200, ready.text
    assert service.popen is not None and service.popen.poll() is None


async def test_shopbox_push_answers_hostile_input_with_4xx_and_publishes_nothing(
    kafka_bootstrap: str,
    kafka_admin: AIOKafkaAdminClient,
    topic_namespace: str,
    start_service: StartService,
    shopbox_sim: ShopboxSim,
    rackbeat_sim: RackbeatSim,
) -> None:
    env = service_env(
        topic_namespace, shopbox_sim, rackbeat_sim, SECRET, ORDER_INGEST_POLL_ENABLED="false"
    )
    ingest = await start_service("order-ingest", env)
    statuses: Counter[int] = Counter()
    url = f"{ingest.url}/webhooks/shopbox"
    before = rss_mb(ingest)
    await asyncio.to_thread(fuzz, url, shopbox_bodies, "query", SECRET, statuses)
    big = await asyncio.to_thread(multi_megabyte, url, {}, {"shopbox_hook_id": SECRET})
    after = rss_mb(ingest)
    print(
        f"\nshopbox push fuzz: {sum(statuses.values())} requests, statuses {dict(statuses)}; "
        f"5 MB bodies {big}; RSS {before:.0f} -> {after:.0f} MB"
    )
    assert big == [413, 413]
    assert {401, 415}.issubset(statuses) and (400 in statuses or 422 in statuses)
    assert await sales_records(kafka_bootstrap, kafka_admin, Topics(topic_namespace).sales) == []
    await assert_ready(ingest)
    assert_clean(ingest)


async def test_rackbeat_webhook_answers_hostile_input_with_4xx_and_publishes_nothing(
    shopbox_sim: ShopboxSim,
    rackbeat_sim: RackbeatSim,
    kafka_bootstrap: str,
    topic_namespace: str,
    start_service: StartService,
) -> None:
    world = await prepare(shopbox_sim, rackbeat_sim, kafka_bootstrap, topic_namespace, items=3)
    publisher = await world.start(start_service)
    hooks = rackbeat_sim.state.bus.hooks.values()
    token = next(h.token for h in hooks if h.event == "inventory.changed")
    statuses: Counter[int] = Counter()
    url = f"{world.url}/webhooks/rackbeat"
    before = rss_mb(publisher)
    await asyncio.to_thread(fuzz, url, rackbeat_bodies, "header", token, statuses)
    headers = {"Rackbeat-Webhook-Token": token}
    big = await asyncio.to_thread(multi_megabyte, url, headers, {})
    after = rss_mb(publisher)
    print(
        f"\nrackbeat webhook fuzz: {sum(statuses.values())} requests, statuses {dict(statuses)}; "
        f"5 MB bodies {big}; RSS {before:.0f} -> {after:.0f} MB"
    )
    assert big == [413, 413]
    assert {401, 415, 422}.issubset(statuses)
    await asyncio.sleep(2)  # let every queued read run
    sources = await _sources(kafka_bootstrap, Topics(topic_namespace).stock)
    assert "stock-publisher/webhook" not in sources
    status = await world.status()
    assert status["counters"].get("read_errors", 0) == 0
    await assert_ready(publisher)
    assert_clean(publisher)

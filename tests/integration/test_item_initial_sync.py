"""`syncctl initial-sync` as an operator runs it (a process), against both simulators over HTTP
and the real Kafka broker: the demo shop (302 products, 42 with variants, 2 of them size x
colour, two branches) ends up in Rackbeat with every item, variant and stock figure; a second
run writes nothing; a run killed halfway and started again finishes without duplicates;
--dry-run writes nothing.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from schemas.topics import Topics
from services.common.bindings import BindingsView
from services.common.settings import KafkaSettings
from tests.fixtures.rackbeat_sim import RackbeatSim
from tests.fixtures.shopbox_sim import ShopboxSim, demo_shop
from tests.support import eventually, records_in

REPO = Path(__file__).resolve().parents[2]
FAST = 60_000  # requests/minute: the 480/min shape is measured by tests/bench/bench_items.py
BRANCH_LOCATIONS = '{"1": 1, "2": 2}'


def cli_env(
    kafka_bootstrap: str, namespace: str, shopbox: ShopboxSim, rackbeat: RackbeatSim
) -> dict[str, str]:
    return {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "KAFKA_TOPIC_NAMESPACE": namespace,
        "SHOPBOX_BASE_URL": shopbox.api_url,
        "SHOPBOX_API_TOKEN": shopbox.token,
        "RACKBEAT_BASE_URL": rackbeat.api_url,
        "RACKBEAT_API_TOKEN": rackbeat.token,
        "RACKBEAT_REQUESTS_PER_MINUTE": str(FAST),
        "SYNC_BRANCH_LOCATIONS": BRANCH_LOCATIONS,
        "COLUMNS": "160",
    }


async def start_cli(env: dict[str, str], *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.syncctl",
        "initial-sync",
        *args,
        cwd=REPO,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


async def run_cli(env: dict[str, str], *args: str) -> tuple[int, str]:
    process = await start_cli(env, *args)
    out, _ = await asyncio.wait_for(process.communicate(), timeout=180)
    return process.returncode or 0, out.decode(errors="replace")


def summary_count(out: str, row: str) -> int:
    """A count from the summary table, e.g. `│ bindings published │ 381 │`."""
    found = re.search(rf"{re.escape(row)}\W+(\d+)", out)
    assert found, f"no {row!r} row in:\n{out}"
    return int(found.group(1))


def writes(counts: dict[str, int]) -> int:
    return sum(n for key, n in counts.items() if key.split(" ")[0] in ("POST", "PUT", "DELETE"))


def expected_shop() -> dict[str, Any]:
    """From the fixture: the products that must sync (valid, unique SKU) and their stock."""
    shop = demo_shop()
    skus = Counter(p["sku_code"] for p in shop["products"])
    good = [
        p
        for p in shop["products"]
        if p["sku_code"] and len(p["sku_code"]) <= 25 and skus[p["sku_code"]] == 1
    ]
    stock = {
        (s["branch"], s["product"], s["product_variance"]): s["quantity"] for s in shop["stock"]
    }
    return {"good": good, "stock": stock}


async def assert_rackbeat_matches_shop(rackbeat: RackbeatSim) -> None:
    store = rackbeat.state.store
    expected = expected_shop()
    assert set(store.products) == {p["sku_code"] for p in expected["good"]}
    for product in expected["good"]:
        item = store.products[product["sku_code"]]
        assert item.name == product["name"]
        assert item.sales_price == (Decimal(product["selling_price"]) / Decimal("125")).quantize(
            Decimal("0.01")
        )
        variances = product["product_variances"]
        if not variances:
            assert item.variation_id is None
            for branch in (1, 2):
                want = expected["stock"].get((branch, product["uid"], None), 0)
                assert store.totals(item.number, location=branch).stock == want, item.number
            continue
        variation = store.variations[item.variation_id or -1]
        options = {(t.name, o.name): o.id for t in variation.types for o in t.options}
        values = {(v["variance_type"], v["name"]) for x in variances for v in x["variance_values"]}
        assert set(options) == values, item.number
        for variance in variances:
            key = tuple(
                sorted(
                    options[(v["variance_type"], v["name"])] for v in variance["variance_values"]
                )
            )
            for branch in (1, 2):
                want = expected["stock"].get((branch, product["uid"], variance["uid"]), 0)
                got = store.totals(item.number, location=branch, key=key).stock
                assert got == want, (item.number, variance["sku_code"], branch)


async def bindings_of(kafka_bootstrap: str, namespace: str) -> BindingsView:
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap, topic_namespace=namespace)
    view = BindingsView(kafka, Topics(namespace).bindings)
    await view.start()
    await view.wait_caught_up()
    return view


async def test_initial_sync_copies_demo_shop_and_a_second_run_writes_nothing(
    kafka_bootstrap: str, topic_namespace: str, shopbox_sim: ShopboxSim, rackbeat_sim: RackbeatSim
) -> None:
    await rackbeat_sim.set_faults(rate_limit_per_minute=FAST)
    env = cli_env(kafka_bootstrap, topic_namespace, shopbox_sim, rackbeat_sim)

    code, out = await run_cli(env)
    assert code == 0, out
    await assert_rackbeat_matches_shop(rackbeat_sim)
    assert "skip" in out and "KOL-OVERLONG-SKU-CODE-0001X" in out
    first = await rackbeat_sim.requests()

    view = await bindings_of(kafka_bootstrap, topic_namespace)
    try:
        # Published concurrently by 8 tasks: the summary must count every one of them (a
        # duplicate SKU is published once per product holding it, so records, not keys).
        published = await records_in(kafka_bootstrap, Topics(topic_namespace).bindings)
        assert summary_count(out, "bindings published") == published >= len(view) > 300
        variant = view.by_sku("TOJ-0001-XL")
        assert variant is not None and variant.rackbeat_item_number == "TOJ-0001"
        assert variant.rackbeat_option_id and variant.shopbox_variant_id == "200004"
        simple = view.by_sku("BRD-0002")
        assert simple is not None and simple.rackbeat_item_number == "BRD-0002"
        assert view.by_sku("BRD-0001") is None  # duplicate: reported, never matched
        problems = {b.sku: b.problem for b in view.problems()}
        assert "BRD-0001" in problems and "KOL-OVERLONG-SKU-CODE-0001X" in problems
        assert any(sku.startswith("<empty:") for sku in problems)
    finally:
        await view.stop()

    code, out = await run_cli(env)
    assert code == 0, out
    second = await rackbeat_sim.requests()
    delta = {k: second.get(k, 0) - first.get(k, 0) for k in second}
    assert writes(delta) == 0, delta
    assert "products unchanged" in out
    assert summary_count(out, "bindings published") == 0
    assert summary_count(out, "Rackbeat writes made") == 0


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGINT], ids=["crash", "ctrl-c"])
async def test_a_run_stopped_halfway_finishes_on_the_next_run_without_starting_over(
    kafka_bootstrap: str,
    topic_namespace: str,
    shopbox_sim: ShopboxSim,
    rackbeat_sim: RackbeatSim,
    stop: signal.Signals,
) -> None:
    await rackbeat_sim.set_faults(rate_limit_per_minute=FAST)
    env = cli_env(kafka_bootstrap, topic_namespace, shopbox_sim, rackbeat_sim)
    store = rackbeat_sim.state.store

    process = await start_cli(env)
    await eventually(lambda: len(store.products) >= 120, timeout=120, every=0.01)
    process.send_signal(stop)  # SIGKILL: no chance to clean up; SIGINT: what Ctrl-C sends
    said, _ = await process.communicate()
    if stop == signal.SIGINT:
        assert process.returncode == 130 and b"Run it again to finish" in said, said
    done = len(store.products)
    good = len(expected_shop()["good"])
    assert 0 < done < good

    code, out = await run_cli(env)
    assert code == 0, out
    # Not started over: the second run creates only what the first did not get to.
    assert summary_count(out, "products created") == good - done
    await assert_rackbeat_matches_shop(rackbeat_sim)
    names = Counter(v.name for v in store.variations.values())
    assert max(names.values()) == 1, "a variation was created twice"
    assert len(store.variations) == 42  # 40 of one variant type, 2 of size x colour


async def test_dry_run_prints_the_plan_and_writes_nothing(
    kafka_bootstrap: str, topic_namespace: str, shopbox_sim: ShopboxSim, rackbeat_sim: RackbeatSim
) -> None:
    await rackbeat_sim.set_faults(rate_limit_per_minute=FAST)
    env = cli_env(kafka_bootstrap, topic_namespace, shopbox_sim, rackbeat_sim)
    code, out = await run_cli(env, "--dry-run")
    assert code == 0, out
    assert writes(await rackbeat_sim.requests()) == 0
    assert not rackbeat_sim.state.store.products
    assert "create BRD-0002" in out
    assert "stock BRD-0002 at location 1: 0 ->" in out
    assert "stock figures to write" in out
    assert summary_count(out, "bindings published") == 0


@pytest.mark.parametrize("source", ["rackbeat", "both"])
async def test_the_reverse_direction_is_refused_with_a_reason(
    kafka_bootstrap: str,
    topic_namespace: str,
    shopbox_sim: ShopboxSim,
    rackbeat_sim: RackbeatSim,
    source: str,
) -> None:
    env = cli_env(kafka_bootstrap, topic_namespace, shopbox_sim, rackbeat_sim)
    code, out = await run_cli(env, "--from", source)
    assert code == 2
    assert "cannot go the other way" in " ".join(out.split())
    assert writes(await shopbox_sim.request_counts()) == 0

"""Initial sync of 10,000 Shopbox products into Rackbeat, against the rate-limit floor.

The floor is what the rate limit alone allows: Rackbeat calls made / limit. At the real 480
requests/minute, 10,000 products (33,914 calls) need about 70 minutes, so `make bench` raises
the Rackbeat simulator's limit and the client's limit by the same factor (SCALE) and reports the
ratio time / floor (floor = (calls - the client limiter's burst of at most 5) / limit), which
is what the design controls (how close it runs to the limit); the equivalent time at 480/min
is that ratio times the floor at 480/min. Both simulators run as
their own processes, as in `make run`; bindings are not published (no Kafka), since publishing
is not what the rate limit bounds.

`python -m tests.bench.bench_items [products] [scale] [--no-rerun]`; `10000 1 --no-rerun` is the
real 480/min run (about 70 minutes).
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import secrets
import socket
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from domain.items.rules import PriceRules
from infra.simulators.shopbox import DEMO_SHOP
from services.clients.http import smoothed_limiter
from services.clients.rackbeat import RackbeatClient
from services.clients.shopbox import ShopboxClient
from services.common.settings import SyncSettings
from services.syncctl.initial_sync import InitialSync

REPO = Path(__file__).resolve().parents[2]
LIMIT = 480
PRODUCTS = 10_000
SCALE = 25  # 480 x 25 = 12,000 requests/minute


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def big_shop(count: int) -> dict[str, Any]:
    """The demo shop's valid products repeated with suffixed SKUs and fresh uids."""
    demo = json.loads(DEMO_SHOP.read_text(encoding="utf-8"))
    good = [p for p in demo["products"] if "bad_sku" not in p and p["sku_code"] != "BRD-0001"]
    stock_of: dict[int, list[dict[str, Any]]] = {}
    for row in demo["stock"]:
        stock_of.setdefault(row["product"], []).append(row)
    products, stock = [], []
    uid, vuid = 500_000, 800_000
    for i in range(count):
        source = good[i % len(good)]
        copy_no = i // len(good)
        product = copy.deepcopy(source)
        uid += 1
        product["uid"], product["sku_code"] = uid, f"{source['sku_code']}-{copy_no:03d}"
        variance_uids = {}
        for variance in product["product_variances"]:
            vuid += 1
            variance_uids[variance["uid"]] = vuid
            variance["uid"], variance["sku_code"] = vuid, f"{variance['sku_code']}-{copy_no:03d}"
        products.append(product)
        for row in stock_of.get(source["uid"], []):
            moved = {**row, "product": uid}
            if row["product_variance"] is not None:
                moved["product_variance"] = variance_uids[row["product_variance"]]
            stock.append(moved)
    return {**demo, "products": products, "stock": stock}


async def start_sim(module: str, *args: str) -> tuple[asyncio.subprocess.Process, str]:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        module,
        "--port",
        str(port),
        *args,
        cwd=REPO,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient() as client:
        for _ in range(300):
            try:
                await client.get(f"{url}/_control/requests")
                return process, url
            except httpx.HTTPError:
                await asyncio.sleep(0.1)
    raise RuntimeError(f"{module} did not start")


def floor_minutes(calls: int, limit: int) -> float:
    return max(calls - smoothed_limiter(limit).max_rate, 0) / limit


async def main(
    products: int = PRODUCTS, scale: int = SCALE, rerun: bool = True
) -> dict[str, float]:
    limit = LIMIT * scale
    token_sb, token_rb = secrets.token_hex(8), secrets.token_hex(8)
    with tempfile.TemporaryDirectory() as tmp:
        seed = Path(tmp) / "shop.json"
        seed.write_text(json.dumps(big_shop(products)), encoding="utf-8")
        shopbox_proc, shopbox_url = await start_sim(
            "infra.simulators.shopbox", "--token", token_sb, "--seed", str(seed)
        )
        rackbeat_proc, rackbeat_url = await start_sim(
            "infra.simulators.rackbeat", "--token", token_rb, "--rate-limit", str(limit)
        )
        try:
            return await _measure(
                shopbox_url, token_sb, rackbeat_url, token_rb, limit, products, rerun
            )
        finally:
            for process in (shopbox_proc, rackbeat_proc):
                process.terminate()
                await process.wait()


async def _measure(
    shopbox_url: str,
    token_sb: str,
    rackbeat_url: str,
    token_rb: str,
    limit: int,
    count: int,
    rerun_too: bool,
) -> dict[str, float]:
    shopbox = ShopboxClient(f"{shopbox_url}/api/v3", token_sb)
    rackbeat = RackbeatClient(f"{rackbeat_url}/api", token_rb, requests_per_minute=limit)
    sync = SyncSettings(branch_locations={"1": 1, "2": 2})
    job = InitialSync(shopbox, rackbeat, sync, PriceRules(Decimal(25)), 1, None, concurrency=16)
    try:
        products, stock, _ = await job.load()
        started = time.perf_counter()
        report = await job.run(products, stock)
        elapsed = time.perf_counter() - started
        async with httpx.AsyncClient() as control:
            counts = (await control.get(f"{rackbeat_url}/_control/requests")).json()
        calls = sum(n for key, n in counts.items() if key not in ("429", "500"))
        # The client's limiter lets its small burst go at once, the rest at limit/60 per
        # second; the simulator's bucket, a whole minute's, never binds below that.
        floor_s = floor_minutes(calls, limit) * 60
        figures = {
            "items_products": float(count),
            "items_rackbeat_calls": float(calls),
            "items_rackbeat_429s": float(counts.get("429", 0)),
            "items_limit_per_min": float(limit),
            "items_elapsed_s": round(elapsed, 1),
            "items_floor_s": round(floor_s, 1),
            "items_ratio_to_floor": round(elapsed / floor_s, 3) if floor_s else 0.0,
            "items_floor_at_480_min": round(floor_minutes(calls, LIMIT), 1),
            "items_writes": float(report.writes),
        }
        # At the real limit a re-run costs another ~25 minutes of stock reads: skippable, and
        # then its figures are absent rather than a made-up value.
        if rerun_too:
            rerun_started = time.perf_counter()
            figures["items_rerun_writes"] = float((await job.run(products, stock)).writes)
            figures["items_rerun_s"] = round(time.perf_counter() - rerun_started, 1)
        return figures
    finally:
        await shopbox.aclose()
        await rackbeat.aclose()


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else PRODUCTS
    k = int(sys.argv[2]) if len(sys.argv) > 2 else SCALE
    rerun = "--no-rerun" not in sys.argv
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    for key, value in asyncio.run(main(n, k, rerun)).items():
        print(f"{key:<28} {value}")

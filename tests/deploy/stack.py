"""The compose stack as the deploy tests see it: `docker compose` (project, files, profile and
engine come from the environment infra/deploy/deploy-test.sh sets) and the published ports."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import httpx

from tests.deploy import REPO

SHOPBOX = "http://127.0.0.1:8101"
RACKBEAT = "http://127.0.0.1:8102"
SHOPBOX_TOKEN = "shopbox-dev-token"  # compose.env.example's dev values
RACKBEAT_TOKEN = "rackbeat-sim-dev-token"
SECRETS = (SHOPBOX_TOKEN, RACKBEAT_TOKEN, "shopbox-dev-hook-secret")
APP_SERVICES = ("order-ingest", "order-writer", "stock-publisher", "item-mapper", "dashboard")
LONG_RUNNING = ("kafka", *APP_SERVICES, "shopbox-sim", "rackbeat-sim")

T = TypeVar("T")


def compose(*args: str, timeout: float = 300, check: bool = True) -> str:
    done = subprocess.run(
        ["docker", "compose", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and done.returncode != 0:
        raise AssertionError(f"docker compose {' '.join(args)}: {done.returncode}\n{done.stderr}")
    return done.stdout


def containers() -> dict[str, dict[str, Any]]:
    """`docker compose ps -a` by service: State, Health, ExitCode, Status."""
    out = compose("ps", "--all", "--format", "json").strip()
    rows: list[dict[str, Any]] = (
        json.loads(out) if out.startswith("[") else [json.loads(line) for line in out.splitlines()]
    )
    return {row["Service"]: row for row in rows}


def up(*services: str) -> None:
    compose(
        "up", "--detach", "--no-build", "--wait", "--wait-timeout", "240", *services, timeout=300
    )


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 90) -> T:
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found is not None and found is not False:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(1)


def rackbeat_state() -> dict[str, Any]:
    result: dict[str, Any] = httpx.get(f"{RACKBEAT}/_control/state", timeout=10).json()
    return result


def order_headings() -> list[str]:
    return [order["heading"] for order in rackbeat_state()["orders"]]


def orders_for(basket: int) -> int:
    """How many Rackbeat orders carry the basket's reference (the writer puts it in the heading)."""
    tag = f"[shopbox-basket-{basket}]"
    return sum(tag in heading for heading in order_headings())


def rackbeat_stock(item: str, location: int) -> float:
    for row in rackbeat_state()["stock"]:
        if row["item_number"] == item and row["location_number"] == location:
            return float(row["stock_quantity"])
    raise AssertionError(f"Rackbeat has no stock row for {item} at location {location}")


def sale(sku: str, quantity: int, branch: int = 1) -> int:
    """Rings up a sale at the Shopbox simulator's till; the basket's uid."""
    body = {"branch": branch, "lines": [{"sku": sku, "quantity": quantity}]}
    response = httpx.post(f"{SHOPBOX}/_control/sale", json=body, timeout=10)
    assert response.status_code == 201, response.text
    return int(response.json()["uid"])


def _rows(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if "sku_code" in node and "quantity" in node:
            yield node
        for value in node.values():
            yield from _rows(value)
    elif isinstance(node, list):
        for value in node:
            yield from _rows(value)


def shopbox_stock(sku: str, branch: int = 1) -> float:
    response = httpx.get(
        f"{SHOPBOX}/api/v3/product-inventories",
        params={"branch": branch, "num_per_page": -1, "api-token": SHOPBOX_TOKEN},
        timeout=10,
    )
    response.raise_for_status()
    for row in _rows(response.json()):
        if row["sku_code"] == sku:
            return float(row["quantity"])
    raise AssertionError(f"Shopbox has no inventory row for {sku} in branch {branch}")

"""The compose deployment run for real (make deploy-test; docs/deploying.md): the image of
infra/Dockerfile built, infra/compose.yaml started with the demo profile the way
docs/deployment-reference.md tells a merchant to, then checked only through `docker compose` and
the published ports. The tests share one stack and run in file order: each step builds on the
state the one before left (the sales, the kill, then down and up).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import threading
import time

import httpx
import pytest

from schemas.topics import ORDERS_SYNCED
from services.common.readers import record_count
from services.common.settings import KafkaSettings
from tests.deploy.stack import (
    APP_SERVICES,
    LONG_RUNNING,
    RACKBEAT,
    SECRETS,
    compose,
    containers,
    order_headings,
    orders_for,
    rackbeat_state,
    rackbeat_stock,
    sale,
    shopbox_stock,
    up,
    wait_for,
)

SKU = "BRD-0002"  # the README demo's product: one SKU, branch 1 -> Rackbeat location 1


@pytest.fixture(scope="module")
def stack() -> None:
    """As docs/deployment-reference.md: the simulators, the initial sync, then everything."""
    up("shopbox-sim", "rackbeat-sim")
    compose("run", "--rm", "order-writer", "python", "-m", "services.syncctl", "initial-sync")
    # Named, not all: under podman, compose recreates running containers it is asked about
    # (even with --no-recreate), and the simulators keep the initial sync in memory only.
    up("kafka", "topics", *APP_SERVICES)


def test_the_image_runs_as_its_own_unprivileged_user() -> None:
    # The image was built from infra/Dockerfile by deploy-test.sh; this runs it.
    out = compose("run", "--rm", "--no-deps", "topics", "id")
    assert "uid=10001(shopbox-sync)" in out and "gid=10001(shopbox-sync)" in out


@pytest.mark.usefixtures("stack")
def test_every_container_is_healthy_and_topics_completed() -> None:
    found = containers()
    for service in LONG_RUNNING:
        assert found[service]["State"] == "running", (service, found[service])
        assert found[service]["Health"] == "healthy", (service, found[service])
    assert found["topics"]["State"] == "exited" and found["topics"]["ExitCode"] == 0


@pytest.mark.usefixtures("stack")
def test_initial_sync_copied_the_demo_shop_into_rackbeat() -> None:
    assert rackbeat_state()["counts"]["products"] >= 250  # the demo shop's unambiguous SKUs
    assert rackbeat_stock(SKU, 1) == shopbox_stock(SKU)


@pytest.mark.usefixtures("stack")
def test_a_sale_at_the_till_becomes_one_rackbeat_order() -> None:
    basket = sale(SKU, 2)
    wait_for("the order in Rackbeat", lambda: orders_for(basket) > 0)
    time.sleep(5)  # a duplicate would come from a redelivery or the next poll: give it time
    assert orders_for(basket) == 1


@pytest.mark.usefixtures("stack")
def test_a_rackbeat_stock_change_reaches_shopbox() -> None:
    before = shopbox_stock(SKU)
    body = {"item_number": SKU, "location_number": 1, "quantity": 5}
    assert httpx.post(f"{RACKBEAT}/_control/stock", json=body, timeout=10).status_code < 300
    wait_for("Shopbox's figure", lambda: shopbox_stock(SKU) == before + 5, timeout=120)


def main_pid(service: str) -> int:
    """The service's process id, from the engine (`docker compose top` has no podman equivalent)."""
    container = containers()[service]["ID"]
    out = subprocess.check_output(["docker", "inspect", "-f", "{{.State.Pid}}", container])
    return int(out)


def crash(service: str) -> int:
    """SIGKILL to the service's process, as a crash or an OOM kill would end it; its pid. Not
    `docker compose kill`: Docker and podman both count that as a manual stop, which the restart
    policy leaves stopped (docs/deploying.md)."""
    pid = main_pid(service)
    assert pid > 1
    os.kill(pid, signal.SIGKILL)
    return pid


@pytest.mark.usefixtures("stack")
def test_a_crashed_order_writer_comes_back_and_every_sale_has_one_order() -> None:
    baskets: list[int] = []

    def ring_up(count: int) -> None:
        for _ in range(count):
            baskets.append(sale(SKU, 1))
            time.sleep(1)

    ring_up(3)
    selling = threading.Thread(target=ring_up, args=(6,))
    selling.start()
    killed = crash("order-writer")
    selling.join()
    # A new process (the restart can be quicker than any poll of its stopped state).
    wait_for("order-writer restarted", lambda: main_pid("order-writer") not in (0, killed))
    wait_for("order-writer healthy", lambda: containers()["order-writer"]["Health"] == "healthy")
    wait_for("every order", lambda: all(orders_for(uid) for uid in baskets), timeout=180)
    time.sleep(5)
    assert {uid: orders_for(uid) for uid in baskets} == dict.fromkeys(baskets, 1)


@pytest.mark.usefixtures("stack")
def test_logs_are_json_and_carry_no_secret() -> None:
    for service in APP_SERVICES:
        lines = [line for line in compose("logs", "--no-log-prefix", service).splitlines() if line]
        assert lines, f"{service} logged nothing"
        for line in lines:
            assert isinstance(json.loads(line), dict), (service, line)
    # topics is a one-shot CLI: its output is a report for the operator, not log records.
    for service in ("topics", *APP_SERVICES):
        out = compose("logs", "--no-log-prefix", service)
        assert not [secret for secret in SECRETS if secret in out], service


def ledger_size() -> int:
    """Records of the order ledger, read at Kafka's published port."""
    kafka = KafkaSettings(bootstrap_servers="127.0.0.1:9092", topic_namespace="")
    return asyncio.run(record_count(kafka, ORDERS_SYNCED))


@pytest.mark.usefixtures("stack")
def test_down_then_up_keeps_kafkas_data_and_redoes_no_sale() -> None:
    ledger = ledger_size()
    assert ledger >= 7  # the sales above
    compose("down", timeout=180)
    assert containers() == {}
    up()
    assert ledger_size() == ledger  # the volume kept the topics and their records
    # The simulators start empty again: an order now could only be a sale redone from Kafka.
    time.sleep(20)
    assert order_headings() == []
    assert ledger_size() == ledger

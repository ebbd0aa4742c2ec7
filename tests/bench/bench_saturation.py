"""Saturation benchmark: offered sales/s stepping up, what the sales pipeline delivers at each.

order-ingest and order-writer run as processes against the real broker, and so do both
simulators (as in `make run` and `bench_items`), so neither simulator shares a core with the load
generator. This process holds the load generator (a till ringing up baskets through the Shopbox
simulator's `/_control/sales`, one call per batch every BATCH_S; the simulator pushes each
basket to order-ingest by its webhook) and a reader of the ledger (`orders.synced.v1`). Per
step: the delivered rate (ledger records a second), p50/p99 from the batch's control call to
the basket's ledger record, the backlog at the start and end of the step, Rackbeat calls per
sale (the writer's own, and every call the simulator answered), CPU and RSS per process. The
floor (one POST to the Rackbeat simulator, one Kafka produce->consume round trip) is measured in
the same run. Then the webhook edge alone: pushes for existing baskets straight at order-ingest,
accepted/s and p99. Rate limits are off. `BENCH_RATES` (sales/s, comma-separated) and
`BENCH_STEP_S` (seconds per step) change the steps.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import secrets
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from infra.processes import SERVICES
from infra.simulators.common import free_port
from infra.simulators.shopbox import DEMO_SHOP
from schemas.topics import Topics, ensure_topics
from tests.bench.bench_items import start_sim
from tests.e2e.sales_harness import build_catalog, publish_bindings, sale_lines, service_env
from tests.fixtures.services import RunningService

RATES = [int(r) for r in os.environ.get("BENCH_RATES", "50,100,200,300,400").split(",")]
STEP_S = float(os.environ.get("BENCH_STEP_S", "20"))
DRAIN_S = 60.0
BATCH_S = 0.05  # the generator's tick: one control call per tick, whatever the rate
SECRET = "bench-hook-secret"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class _Sim:
    def __init__(self, api_url: str, token: str) -> None:
        self.api_url, self.token = api_url, token


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * q))], 1) if ordered else -1.0


class Ledger:
    """Reads `orders.synced.v1` and notes when each basket's record arrives."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.landed: dict[str, float] = {}
        self.consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", fetch_max_wait_ms=5
        )

    async def run(self) -> None:
        await self.consumer.start()
        try:
            while True:
                batch = await self.consumer.getmany(timeout_ms=50)
                now = time.perf_counter()
                for records in batch.values():
                    for record in records:
                        basket = json.loads(record.value)["payload"]["basket_id"]
                        self.landed.setdefault(basket, now)
        finally:
            await self.consumer.stop()


async def floor_ms(bootstrap: str, rb_url: str, rb_token: str) -> dict[str, float]:
    """The cost of the two hops every sale must make, measured now, on this machine."""
    topic = f"bench-floor-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", fetch_max_wait_ms=5
    )
    await producer.start()
    await consumer.start()
    kafka: list[float] = []
    http: list[float] = []
    headers = {"Authorization": f"Bearer {rb_token}"}
    order = {"customer_id": 1, "lines": []}  # refused (422) by the simulator: the round trip only
    try:
        async with httpx.AsyncClient(base_url=f"{rb_url}/api", headers=headers) as client:
            for _ in range(30):
                started = time.perf_counter()
                await client.post("/orders", json=order)
                http.append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                await producer.send_and_wait(topic, b"x")
                await consumer.getone()
                kafka.append((time.perf_counter() - started) * 1000)
    finally:
        await producer.stop()
        await consumer.stop()
    rb_post, round_trip = statistics.median(http), statistics.median(kafka)
    return {
        "floor_rackbeat_post_ms": round(rb_post, 2),
        "floor_kafka_round_trip_ms": round(round_trip, 2),
        "floor_ms": round(rb_post + round_trip, 2),
    }


async def main() -> dict[str, float]:
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    namespace = f"bench-{uuid.uuid4().hex[:8]}."
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await ensure_topics(admin, namespace, partitions=3)
    finally:
        await admin.close()
    catalog = build_catalog(json.loads(DEMO_SHOP.read_text("utf-8")))
    await publish_bindings(bootstrap, namespace, catalog.items)
    logs = Path(tempfile.mkdtemp(prefix="bench-saturation-"))
    sims = await Sims.start(catalog, logs)
    try:
        return await _run(bootstrap, namespace, sims, catalog, logs)
    finally:
        await sims.stop()


@dataclass
class Sims:
    """Both simulators as their own processes, and an HTTP client for their control surfaces."""

    processes: dict[str, asyncio.subprocess.Process]
    sb_url: str
    sb_token: str
    rb_url: str
    rb_token: str
    control: httpx.AsyncClient = field(default_factory=lambda: httpx.AsyncClient(timeout=30))

    @classmethod
    async def start(cls, catalog: Any, logs: Path) -> Sims:
        sb_token, rb_token = f"sb-{secrets.token_hex(6)}", f"rb-{secrets.token_hex(6)}"
        seed = logs / "rackbeat-seed.json"
        seed.write_text(json.dumps(catalog.rackbeat_seed), encoding="utf-8")
        sb_proc, sb_url = await start_sim(
            "infra.simulators.shopbox", "--token", sb_token, "--seed", str(DEMO_SHOP)
        )
        try:
            rb_proc, rb_url = await start_sim(
                "infra.simulators.rackbeat", "--token", rb_token, "--seed", str(seed)
            )
        except BaseException:
            sb_proc.terminate()  # no simulator outlives a run that could not start
            raise
        processes = {"shopbox-sim": sb_proc, "rackbeat-sim": rb_proc}
        sims = cls(processes, sb_url, sb_token, rb_url, rb_token)
        # No faults, and so no rate limit: the limit is not what this benchmark measures.
        (await sims.control.put(f"{rb_url}/_control/faults", json={})).raise_for_status()
        return sims

    async def stop(self) -> None:
        await self.control.aclose()
        for process in self.processes.values():
            process.terminate()
            await process.wait()

    async def push_to(self, url: str) -> None:
        body = {"url": url, "secret": SECRET}
        (await self.control.put(f"{self.sb_url}/_control/webhook", json=body)).raise_for_status()

    async def ring_up(self, sales: list[dict[str, Any]]) -> list[str]:
        """One control call for the whole batch; the basket uids, in order."""
        response = await self.control.post(f"{self.sb_url}/_control/sales", json={"sales": sales})
        response.raise_for_status()
        return [str(basket["uid"]) for basket in response.json()["baskets"]]

    async def api_calls(self) -> int:
        """Every Rackbeat API call the simulator answered so far (control calls excluded)."""
        counts = (await self.control.get(f"{self.rb_url}/_control/requests")).json()
        return sum(n for route, n in counts.items() if " /api" in route)

    async def webhooks(self) -> dict[str, int]:
        """The Shopbox simulator's push counts: delivered, dropped, failed_attempts."""
        state = (await self.control.get(f"{self.sb_url}/_control/state")).json()
        return {k: int(v) for k, v in state["webhooks"].items()}

    async def orders(self) -> int:
        state = (await self.control.get(f"{self.rb_url}/_control/state")).json()
        return int(state["counts"]["orders"])


async def _run(
    bootstrap: str, namespace: str, sims: Sims, catalog: Any, logs: Path
) -> dict[str, float]:
    env = {
        **os.environ,
        **service_env(
            namespace,
            _Sim(f"{sims.sb_url}/api/v3", sims.sb_token),
            _Sim(f"{sims.rb_url}/api", sims.rb_token),
            SECRET,
            KAFKA_BOOTSTRAP_SERVERS=bootstrap,
            RACKBEAT_REQUESTS_PER_MINUTE="1000000",
            # The poll and the sweep list baskets: rarely, so the load is the webhook path.
            ORDER_INGEST_POLL_INTERVAL_S="10",
            ORDER_INGEST_SWEEP_INTERVAL_S="60",
            LOG_FORMAT="json",
            LOG_LEVEL="WARNING",
        ),
    }
    running: dict[str, RunningService] = {}
    for name in ("order-ingest", "order-writer"):
        port = free_port()
        process = next(p for p in SERVICES if p.name == name)
        running[name] = RunningService(
            process, port, {**env, "HTTP_PORT": str(port)}, logs / f"{name}.log"
        )
        running[name].start()
    try:
        for service in running.values():
            await service.wait_ready()
        await sims.push_to(f"{running['order-ingest'].url}/webhooks/shopbox")
        ledger = Ledger(bootstrap, Topics(namespace).orders_synced)
        reader = asyncio.create_task(ledger.run())
        try:
            figures = await floor_ms(bootstrap, sims.rb_url, sims.rb_token)
            figures |= await _steps(sims, catalog, ledger, running)
            figures |= await _edge(running["order-ingest"].url, list(ledger.landed))
            return figures
        finally:
            reader.cancel()
    finally:
        for service in running.values():
            service.terminate()


def _pid(service: RunningService) -> int:
    assert service.popen is not None, "started above"
    return service.popen.pid


async def _status(url: str) -> dict[str, Any] | None:
    """A service's /status, or None when it does not answer in time: a saturated process is a
    figure of the step, not a reason to abandon the run."""
    try:
        async with httpx.AsyncClient(timeout=30) as client:
            body: dict[str, Any] = (await client.get(f"{url}/status")).json()
    except httpx.HTTPError as exc:
        print(f"   {url}/status did not answer: {type(exc).__name__}", flush=True)
        return None
    return body


def _writer_calls(status: dict[str, Any] | None) -> tuple[int, int] | None:
    """The writer's Rackbeat calls so far, and the orders it created (None: no answer)."""
    if status is None:
        return None
    orders = status["orders"]
    return int(orders["created"] + orders["lookups"] + orders["cancelled"]), int(orders["created"])


def _field(status: dict[str, Any] | None, key: str) -> float:
    return -1 if status is None else float(status[key])


def _per_sale(before: tuple[int, int] | None, after: tuple[int, int] | None) -> float:
    """The writer's Rackbeat calls per order it created between two reads of its /status."""
    if before is None or after is None:
        return -1  # the writer's /status did not answer
    return round((after[0] - before[0]) / max(after[1] - before[1], 1), 3)


async def _generate(
    sims: Sims, rate: int, rng: random.Random, catalog: Any, created: dict[str, float]
) -> tuple[list[str], int]:
    """One step of the till: every BATCH_S, the sales then due go in one control call. A batch's
    sales count as created when the call is sent, so a slow simulator shows in the latencies.
    The uids rung up, and the sales of calls the simulator did not answer (a saturated simulator
    is a figure of the step, not a reason to abandon the run)."""
    count = int(rate * STEP_S)
    started = time.perf_counter()
    in_step: list[str] = []
    unanswered = 0
    while len(in_step) + unanswered < count:
        tick = time.perf_counter()
        due = min(count, int((tick - started) * rate) + 1) - len(in_step) - unanswered
        if due > 0:
            sales = [
                {"branch": rng.choice([1, 2]), "lines": sale_lines(rng, catalog.items)}
                for _ in range(due)
            ]
            try:
                uids = await sims.ring_up(sales)
            except httpx.HTTPError as exc:
                print(f"   /_control/sales did not answer: {type(exc).__name__}", flush=True)
                unanswered += due
                uids = []
            for uid in uids:
                created[uid] = tick
                in_step.append(uid)
        next_due = started + (len(in_step) + unanswered) / rate
        await asyncio.sleep(max(next_due, tick + BATCH_S) - time.perf_counter())
    return in_step, unanswered


async def _steps(
    sims: Sims, catalog: Any, ledger: Ledger, running: dict[str, RunningService]
) -> dict[str, float]:
    rng = random.Random(7)
    created: dict[str, float] = {}
    figures: dict[str, float] = {}
    pids = {name: _pid(s) for name, s in running.items()}
    pids |= {name: p.pid for name, p in sims.processes.items()} | {"bench": os.getpid()}
    writer_url = running["order-writer"].url
    step_uids: dict[int, list[str]] = {}
    # One read of the writer's /status per step boundary: a step's end is the next one's start.
    writer_status = await _status(writer_url)
    for rate in RATES:
        step: dict[str, float] = {}
        if writer_status is None:
            writer_status = await _status(writer_url)
        writer_before = _writer_calls(writer_status)
        calls0, orders0, landed0 = await sims.api_calls(), await sims.orders(), len(ledger.landed)
        hooks0 = await sims.webhooks()
        backlog0 = len(created) - len(set(created) & set(ledger.landed))
        cpu0 = {name: cpu_s(pid) for name, pid in pids.items()}
        started = time.perf_counter()
        in_step, unanswered = await _generate(sims, rate, rng, catalog, created)
        elapsed = time.perf_counter() - started
        for name, pid in pids.items():
            step[f"cpu_pct_{name}"] = round((cpu_s(pid) - cpu0[name]) / elapsed * 100, 1)
            step[f"rss_mb_{name}"] = rss_mb(pid)
        delivered = len(ledger.landed) - landed0
        backlog1 = len(created) - len(set(created) & set(ledger.landed))
        calls, orders = await sims.api_calls() - calls0, await sims.orders() - orders0
        hooks1 = await sims.webhooks()
        writer_status = await _status(writer_url)
        step["offered_per_s"] = round(len(in_step) / elapsed, 1)
        # where the backlog is: published by order-ingest, or still before it
        step["published_total"] = _field(await _status(running["order-ingest"].url), "published")
        step["writer_in_flight_end"] = _field(writer_status, "in_flight")
        step["delivered_per_s"] = round(delivered / elapsed, 1)
        step["backlog_start"] = backlog0
        step["backlog_end"] = backlog1
        # per order created in the step (the ledger reader may lag the writer)
        step["rackbeat_calls_per_sale_writer"] = _per_sale(
            writer_before, _writer_calls(writer_status)
        )
        step["rackbeat_calls_per_sale_all"] = round(calls / max(orders, 1), 3)
        # pushes order-ingest did not take at once (refused, timed out): retried by the simulator
        step["webhook_failed_attempts"] = hooks1["failed_attempts"] - hooks0["failed_attempts"]
        step["sales_unanswered"] = unanswered
        answered = writer_status is not None and not unanswered
        stable = answered and backlog1 <= backlog0 + rate and delivered >= 0.95 * len(in_step)
        step["sustained"] = int(stable)
        figures |= {f"r{rate}_{key}": value for key, value in step.items()}
        figures[f"r{rate}_in_step"] = len(in_step)
        print(f"   step {rate}/s: {step}", flush=True)
        step_uids[rate] = in_step
    deadline = time.perf_counter() + DRAIN_S
    while time.perf_counter() < deadline and len(set(created) - set(ledger.landed)) > 0:
        await asyncio.sleep(0.2)
    for rate in RATES:
        uids = step_uids[rate]
        latencies = [(ledger.landed[u] - created[u]) * 1000 for u in uids if u in ledger.landed]
        figures[f"r{rate}_p50_ms"] = pct(latencies, 0.5)
        figures[f"r{rate}_p99_ms"] = pct(latencies, 0.99)
        figures[f"r{rate}_never_landed"] = len([u for u in uids if u not in ledger.landed])
    figures["orders_in_rackbeat"] = await sims.orders()
    figures["sales_created"] = len(created)
    figures["highest_sustained_per_s"] = highest_sustained(figures)
    return figures


def highest_sustained(figures: dict[str, float]) -> int:
    """The highest rate whose step, and every step below it, kept the backlog stable."""
    best = 0
    for rate in RATES:
        if figures.get(f"r{rate}_sustained") != 1:
            break
        best = rate
    return best


async def _edge(ingest_url: str, baskets: list[str]) -> dict[str, float]:
    """The webhook edge alone: pushes for baskets already synced, 32 at a time."""
    pushes = baskets[:2000]
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    gate = asyncio.Semaphore(32)
    url = f"{ingest_url}/webhooks/shopbox"

    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=32)) as client:

        async def push(uid: str) -> None:
            async with gate:
                started = time.perf_counter()
                response = await client.post(
                    url,
                    params={"shopbox_hook_id": SECRET, "action": "basket.created"},
                    json={"event": "basket.created", "basket_uid": uid},
                )
                latencies.append((time.perf_counter() - started) * 1000)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(push(uid) for uid in pushes))
        elapsed = time.perf_counter() - started
    return {
        "edge_pushes": len(pushes),
        "edge_accepted_per_s": round(statuses.get(200, 0) / elapsed, 1),
        "edge_p50_ms": pct(latencies, 0.5),
        "edge_p99_ms": pct(latencies, 0.99),
        "edge_non_200": sum(n for s, n in statuses.items() if s != 200),
    }


if __name__ == "__main__":
    print(asyncio.run(main()))
